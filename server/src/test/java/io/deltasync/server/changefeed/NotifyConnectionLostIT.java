package io.deltasync.server.changefeed;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The connection the live feed sends its NOTIFY on dies while idle (idle_session_timeout, a failover, a firewall
 * cutting idle connections, pg_terminate_backend): the commit that finds it dead is still announced to other nodes,
 * on a fresh connection, instead of being left to their polling. Before, that commit's NOTIFY was dropped; with the
 * connection opened at start, that was the first commit after every long idle start (from the review of the
 * start-up readying).
 */
class NotifyConnectionLostIT {
  // The feed's dedicated connections carry the driver's default name (the pool's are "deltasync"); the NOTIFY one
  // last ran the NOTIFY, or the rollback of the one run at start.
  private static final String NOTIFY_CONNECTION = "AND application_name = 'PostgreSQL JDBC Driver' "
      + "AND (query = 'ROLLBACK' OR query LIKE '%pg_notify%')";

  private static ManagedChannel channel(DeltaSyncServer server) {
    return ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
  }

  private static void push(ManagedChannel channel, String id) {
    assertThat(SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
        .push(PushRequest.newBuilder().setClientId("writer").addDeltas(create(id, doc("t", "1"))).build())
        .getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
  }

  /** Waits for a notification on the channel (a guard against a hang, not a timing check); false if none came. */
  private static boolean heard(Connection listener) throws SQLException {
    for (int i = 0; i < 300; i++) {
      PGNotification[] got = listener.unwrap(PGConnection.class).getNotifications(100);
      if (got != null && got.length > 0) {
        return true;
      }
    }
    return false;
  }

  /** Ends the server's NOTIFY connection; returns how many backends were ended. */
  private static int terminateNotifyConnection(Connection admin) throws SQLException {
    int ended = 0;
    try (Statement sql = admin.createStatement(); ResultSet rows = sql.executeQuery("SELECT pg_terminate_backend(pid) "
        + "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        + NOTIFY_CONNECTION)) {
      while (rows.next()) {
        ended++;
      }
    }
    return ended;
  }

  private static void awaitGone(Connection admin) throws Exception {
    for (int i = 0; i < 600; i++) {
      try (Statement sql = admin.createStatement(); ResultSet rows = sql.executeQuery("SELECT count(*) FROM "
          + "pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() " + NOTIFY_CONNECTION)) {
        rows.next();
        if (rows.getLong(1) == 0) {
          return;
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the NOTIFY connection's backend did not end");
  }

  @Test
  void theFirstCommitAfterTheStartConnectionDiedIsAnnounced() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (DeltaSyncServer server = DeltaSyncServer.start(TestServerConfig.from(Map.of()).withPort(0)
            .withDatabase(db.url(), db.user(), db.password()));
        Connection admin = db.dataSource().getConnection(); Connection listener = db.dataSource().getConnection()) {
      try (Statement sql = listener.createStatement()) {
        sql.execute("LISTEN " + LiveFeed.CHANNEL);
      }
      assertThat(terminateNotifyConnection(admin)).as("the NOTIFY connection opened at start").isEqualTo(1);
      awaitGone(admin);
      ManagedChannel channel = channel(server);
      try {
        push(channel, "first");
        assertThat(heard(listener)).as("a NOTIFY for the first commit").isTrue();
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void aCommitAfterTheConnectionDiedIsAnnounced() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (DeltaSyncServer server = DeltaSyncServer.start(TestServerConfig.from(Map.of()).withPort(0)
            .withDatabase(db.url(), db.user(), db.password()));
        Connection admin = db.dataSource().getConnection(); Connection listener = db.dataSource().getConnection()) {
      try (Statement sql = listener.createStatement()) {
        sql.execute("LISTEN " + LiveFeed.CHANNEL);
      }
      ManagedChannel channel = channel(server);
      try {
        push(channel, "first");
        assertThat(heard(listener)).isTrue();
        Thread.sleep(200);  // not a bound: lets a late second NOTIFY of the first commit arrive, to be dropped
        listener.unwrap(PGConnection.class).getNotifications(1);
        assertThat(terminateNotifyConnection(admin)).isEqualTo(1);
        awaitGone(admin);
        push(channel, "second");
        assertThat(heard(listener)).as("a NOTIFY for the commit after the connection died").isTrue();
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}

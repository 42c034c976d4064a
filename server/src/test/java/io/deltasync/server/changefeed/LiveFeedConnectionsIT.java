package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The live feed opens its NOTIFY connection at start (DELTASYNC_WARMUP_FEED_CONNECTIONS), before any commit, and
 * nothing of that start reaches a listener: the NOTIFY statement it runs there is rolled back. Off, the connection
 * is opened at the first commit, as before.
 */
class LiveFeedConnectionsIT {
  /** Connections the feed opened, counted. */
  private static final class Counted implements LiveFeed.ListenConnections {
    final TestPostgres.TestDatabase database;
    final AtomicInteger opened = new AtomicInteger();

    Counted(TestPostgres.TestDatabase database) {
      this.database = database;
    }

    @Override
    public Connection open() throws SQLException {
      opened.incrementAndGet();
      return database.dataSource().getConnection();
    }
  }

  /** Every notification {@code listener} has received by the time the next one, a marker, arrives. */
  private static List<PGNotification> notificationsUpTo(Connection listener, String marker) throws SQLException {
    List<PGNotification> received = new ArrayList<>();
    while (received.stream().noneMatch(n -> n.getParameter().equals(marker))) {
      PGNotification[] batch = listener.unwrap(PGConnection.class).getNotifications(0);
      if (batch != null) {
        received.addAll(List.of(batch));
      }
    }
    return received;
  }

  @Test
  void theNotifyConnectionIsOpenBeforeAnyCommitAndNoListenerHearsTheStart() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    ChangeFeed changeFeed = new ChangeFeed(store, store.ensureEpoch());
    Counted connections = new Counted(database);
    try (Connection listener = database.dataSource().getConnection()) {
      try (Statement listen = listener.createStatement()) {
        listen.execute("LISTEN " + LiveFeed.CHANNEL);
      }
      try (LiveFeed feed = new LiveFeed(changeFeed, store, connections, Duration.ofMillis(50), 3, 1, true)) {
        assertThat(feed.awaitConnections(Duration.ofSeconds(60))).isTrue();
        assertThat(connections.opened).as("LISTEN and NOTIFY connections, before any commit").hasValue(2);

        // The start sent nothing: the first notification the listener gets is one sent after it (notifications
        // arrive in commit order), then the feed's own for a commit.
        sql.fetch("select pg_notify(?, 'marker')", LiveFeed.CHANNEL);
        assertThat(notificationsUpTo(listener, "marker")).extracting(PGNotification::getParameter)
            .containsExactly("marker");
        feed.committed();
        List<PGNotification> afterCommit = new ArrayList<>();
        while (afterCommit.isEmpty()) {
          PGNotification[] batch = listener.unwrap(PGConnection.class).getNotifications(0);
          if (batch != null) {
            afterCommit.addAll(List.of(batch));
          }
        }
        assertThat(afterCommit).extracting(PGNotification::getParameter).containsExactly("");
        assertThat(connections.opened).as("the commit's NOTIFY went out on the connection opened at start")
            .hasValue(2);
      }
    }
  }

  @Test
  void offTheNotifyConnectionWaitsForTheFirstCommit() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    ChangeFeed changeFeed = new ChangeFeed(store, store.ensureEpoch());
    Counted connections = new Counted(database);
    try (Connection listener = database.dataSource().getConnection()) {
      try (Statement listen = listener.createStatement()) {
        listen.execute("LISTEN " + LiveFeed.CHANNEL);
      }
      try (LiveFeed feed = new LiveFeed(changeFeed, store, connections, Duration.ofMillis(50), 3, 1, false)) {
        assertThat(feed.awaitConnections(Duration.ofSeconds(60))).isTrue();
        assertThat(connections.opened).as("only LISTEN's").hasValue(1);
        feed.committed();
        List<PGNotification> afterCommit = new ArrayList<>();
        while (afterCommit.isEmpty()) {
          PGNotification[] batch = listener.unwrap(PGConnection.class).getNotifications(0);
          if (batch != null) {
            afterCommit.addAll(List.of(batch));
          }
        }
        assertThat(connections.opened).as("the first commit opened the NOTIFY connection").hasValue(2);
      }
    }
  }
}

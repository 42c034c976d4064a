package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A catch-up or initial-state page read that runs past the statement timeout is tried again with half the rows (down
 * to one), not unchanged: at a jump from small rows to large documents the row count follows the small rows, and the
 * same read would time out at every attempt (the stream stopped at the jump). The timeout is made deterministic here:
 * another session holds the table's ACCESS EXCLUSIVE lock until the stream's read has timed out at least once and is
 * waiting again; the first page then holds fewer rows than the first read asks for (it held exactly that many when a
 * timed-out read was retried unchanged), and the stream still receives everything, in order.
 */
class PageReadTimeoutIT {
  private static final String SCOPE = "timeout";
  private static final int ROWS = 200;
  private static final Subscription ALL = Subscription.newBuilder().addScopes(SCOPE).build();

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> TestServerConfig.from(Map.of(
      "DELTASYNC_DB_STATEMENT_TIMEOUT_SECONDS", "1", "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
      .withPort(0)
      .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  @BeforeAll
  static void rows() {
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) select ?, 'note', "
        + "lpad(g::text, 5, '0'), jsonb_build_object('n', g) from generate_series(1, ?) g", SCOPE, ROWS);
  }

  /**
   * Returns once a session waiting on a lock with {@code queryLike} started its statement after another such session
   * had been seen waiting: the first attempt ran past the statement timeout and the read is tried again.
   */
  private static void awaitSecondAttempt(String queryLike) throws Exception {
    try (Connection connection = server.database().dataSource().getConnection();
        PreparedStatement waiting = connection.prepareStatement("select max(query_start) from pg_stat_activity "
            + "where datname = current_database() and wait_event_type = 'Lock' and query like ?")) {
      waiting.setString(1, queryLike);
      Timestamp first = null;
      for (int i = 0; i < 6000; i++) {
        try (ResultSet row = waiting.executeQuery()) {
          row.next();
          Timestamp started = row.getTimestamp(1);
          if (first == null) {
            first = started;
          } else if (started != null && started.after(first)) {
            return;
          }
        }
        Thread.sleep(5);
      }
      throw new AssertionError("the page read was never tried again after its statement timeout");
    }
  }

  private List<SyncChanges> streamWhileLocked(String table, String cursor, String queryLike) throws Exception {
    int firstRead = TestServerConfig.from(Map.of()).limits().pageSize();
    assertThat(firstRead).as("the first read asks for fewer rows than there are").isLessThan(ROWS);
    try (Connection holder = server.database().dataSource().getConnection();
        StreamClient client = new StreamClient(server.channel())) {
      holder.setAutoCommit(false);
      try (Statement lock = holder.createStatement()) {
        lock.execute("lock table " + table + " in access exclusive mode");
      }
      client.hello("behind-" + table, cursor, ALL);
      awaitSecondAttempt(queryLike);
      holder.commit();
      List<SyncChanges> pages = client.pagesUntilLive();
      client.assertOpen();
      assertThat(pages.getFirst().getChangesCount()).as("the first page, read after a statement timeout")
          .isBetween(1, firstRead / 2);
      return pages;
    }
  }

  @Test
  void aCatchUpReadPastTheStatementTimeoutAsksForFewerRows() throws Exception {
    List<String> expected = server.sql().fetch("select entity_id from change_log where scope = ? order by tx_id, "
        + "change_id", SCOPE).getValues(0, String.class);
    long shrunk = ChangeDelivery.readsShrunk();
    String start = Cursor.start(server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class)).encode();
    List<SyncChanges> pages = streamWhileLocked("change_log", start, "%bytes_through%");
    assertThat(StreamClient.entityIds(pages)).containsExactlyElementsOf(expected);
    assertThat(ChangeDelivery.readsShrunk() - shrunk).isPositive();
  }

  @Test
  void anInitialStateReadPastTheStatementTimeoutAsksForFewerRows() throws Exception {
    List<String> expected = server.sql().fetch("select entity_id from entity where scope = ? and not is_deleted "
        + "order by scope, entity_type, entity_id", SCOPE).getValues(0, String.class);
    long shrunk = ChangeDelivery.readsShrunk();
    List<SyncChanges> pages = streamWhileLocked("entity", "", "%bytes_through%");
    List<SyncChanges> state = pages.stream().filter(p -> p.getPhase() == SyncPhase.SYNC_PHASE_INITIAL_STATE)
        .toList();
    assertThat(StreamClient.entityIds(state)).containsExactlyElementsOf(expected);
    assertThat(ChangeDelivery.readsShrunk() - shrunk).isPositive();
  }

  /**
   * A read that still runs past the statement timeout at one row (here a lock another session holds for longer; in
   * production, say, a migration's lock or one document too large to print in time) is not retried for ever, holding
   * a pooled connection per attempt and telling the client nothing: after the halvings down to one row and
   * {@link ChangeDelivery#TIMEOUTS_AT_ONE_ROW} attempts at one row, the stream ends UNAVAILABLE with a reason that
   * says why (main and the first version of the halving retried for ever: a review test).
   */
  @Test
  void aReadThatStillTimesOutAtOneRowEndsTheStreamWithAClearStatus() throws Exception {
    String start = Cursor.start(server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class)).encode();
    try (Connection holder = server.database().dataSource().getConnection();
        StreamClient client = new StreamClient(server.channel())) {
      holder.setAutoCommit(false);
      try (Statement lock = holder.createStatement()) {
        lock.execute("lock table change_log in access exclusive mode");
      }
      client.hello("stuck-behind-a-lock", start, ALL);
      io.grpc.Status status = client.awaitEnd();
      holder.rollback();
      assertThat(status.getCode()).isEqualTo(io.grpc.Status.Code.UNAVAILABLE);
      assertThat(status.getDescription()).contains("statement timeout", "at one row", "reconnect");
      assertThat(client.drainReceived()).noneMatch(SyncResponse::hasChanges);
    }
  }
}

package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A database restored into another cluster with a large change log: shifting the log's transaction ids is one
 * long statement at start-up, and the server's statement_timeout (meant for requests) must not cancel it, or the
 * server could never start again. Scaled down: 300,000 rows against a 1 s timeout.
 */
class RestoreShiftIT {
  @Test
  void theServerStartsAfterARestoreOfALargeLogDespiteItsStatementTimeout() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0",
            "DELTASYNC_DB_STATEMENT_TIMEOUT_SECONDS", "1")).withPort(0)
        .withDatabase(database.url(), database.user(), database.password());
    try (Connection sql = database.dataSource().getConnection()) {
      // What pg_restore into a younger cluster leaves: logged tx_ids far ahead of the new cluster's counter.
      sql.createStatement().execute("insert into change_log (scope, entity_type, entity_id, operation, row_version, "
          + "etag, data, sync_status, is_deleted, last_modified_at, last_modified_by, created_at, tx_id) "
          + "select 's', 'note', 'n' || i, 'create', 1, '1-x', '{}'::jsonb, 'synced', false, now(), 'x', now(), "
          + "1000000000 + i from generate_series(1, 300000) i");
    }
    try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
      assertThat(server.database().dsl().resultQuery("select max(tx_id) < 0 from change_log").fetchSingle()
          .get(0, Boolean.class)).as("the restored log was shifted below new transaction ids").isTrue();
    }
  }
}

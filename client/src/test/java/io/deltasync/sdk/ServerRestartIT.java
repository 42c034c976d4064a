package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestPostgres;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clients connected to a server that stops and starts again on the same database and port. */
class ServerRestartIT {
  @TempDir
  Path dir;

  @Test
  void clientsReconnectAfterTheServerRestartsWithoutLosingOrDuplicatingAChange() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
        .withPort(0)
        .withDatabase(database.url(), database.user(), database.password());
    DeltaSyncServer first = DeltaSyncServer.start(config);
    int port = first.port();
    String scope = "restart";
    DeltaSyncServer second = null;
    try (Device a = new Device(dir.resolve("a.db"), port, b -> b.clientId("a").subscribe("inspection", scope));
        Device b = new Device(dir.resolve("b.db"), port, c -> c.clientId("b").subscribe("inspection", scope))) {
      a.client.start();
      b.client.start();
      for (int i = 0; i < 3; i++) {
        a.client.create("inspection", scope, "before-" + i, doc("n", "" + i));
      }
      a.awaitSynced();
      await("b has a's entities", () -> b.client.query(null, scope).size() == 3);

      first.close();
      await("both noticed", () -> a.client.state().phase() != SyncState.Phase.LIVE
          && b.client.state().phase() != SyncState.Phase.LIVE);
      a.client.create("inspection", scope, "during-0", doc("n", "0"));
      a.client.create("inspection", scope, "during-1", doc("n", "1"));
      b.client.update(new EntityKey(scope, "inspection", "before-1"), doc("n", "b"));

      second = DeltaSyncServer.start(config.withPort(port));
      await("both copies equal the server's", () -> {
        Map<String, Long> expected = serverState(sql, scope);
        return a.client.pendingCount() == 0 && b.client.pendingCount() == 0
            && localState(a, scope).equals(expected) && localState(b, scope).equals(expected);
      });
      assertThat(serverState(sql, scope)).hasSize(5).containsEntry("before-1", 2L);
      // Six writes, six changes: nothing was pushed twice.
      assertThat(sql.fetchOne("select count(*) from change_log where scope = ?", scope).get(0, Long.class))
          .isEqualTo(6);
      assertThat(a.states).extracting(SyncState::phase).containsSubsequence(SyncState.Phase.LIVE,
          SyncState.Phase.OFFLINE, SyncState.Phase.CONNECTING, SyncState.Phase.LIVE);
      assertThat(b.client.get(new EntityKey(scope, "inspection", "during-1")).orElseThrow().data())
          .isEqualTo(doc("n", "1"));
    } finally {
      if (second != null) {
        second.close();
      }
      first.close();
    }
  }

  private static Map<String, Long> serverState(DSLContext sql, String scope) {
    Map<String, Long> state = new TreeMap<>();
    for (Record r : sql.fetch("select entity_id, row_version from entity where scope = ? and not is_deleted", scope)) {
      state.put(r.get(0, String.class), r.get(1, Long.class));
    }
    return state;
  }

  private static Map<String, Long> localState(Device device, String scope) {
    Map<String, Long> state = new TreeMap<>();
    for (LocalEntity entity : device.client.query(null, scope)) {
      state.put(entity.key().entityId(), entity.pending() ? -1 : entity.serverVersion());
    }
    return state;
  }
}

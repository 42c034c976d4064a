package io.deltasync.server.ops;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.OpsConfig;
import io.deltasync.server.store.CleanupStore;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Clean-up purging old history in small batches while four clients push and stream: every client ends with exactly
 * the database's state of the scope it follows, no change arrives twice, and every push is answered as applied.
 */
class CleanupWhileSyncingIT {
  private static final int CLIENTS = 4;
  private static final int BATCHES = 30;
  private static final int OLD = 40;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withOps(config.ops().withCleanup(Duration.ZERO, 1_000)));

  private static Delta in(String scope, Delta delta) {
    return delta.toBuilder().setScope(scope).build();
  }

  @Test
  void cleanupWhileFourClientsPushAndStreamLosesAndDuplicatesNothing() throws Exception {
    DSLContext sql = server.sql();
    // History older than the retention: created, half of it deleted, then aged 40 days (without triggers, so that
    // aging writes no new change).
    PushRequest.Builder old = PushRequest.newBuilder().setClientId("old-writer");
    for (int i = 0; i < OLD; i++) {
      old.addDeltas(in("old", create("o" + i, doc("v", "1"))));
      if (i % 2 == 0) {
        old.addDeltas(in("old", delete("o" + i, 1)));
      }
    }
    assertThat(server.sync().push(old.build()).getResultsList()).allMatch(
        r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED);
    sql.transaction(cfg -> {
      var tx = org.jooq.impl.DSL.using(cfg);
      tx.execute("SET LOCAL session_replication_role = replica");
      tx.execute("UPDATE entity SET last_modified_at = now() - interval '40 days' WHERE scope = 'old'");
      tx.execute("UPDATE change_log SET last_modified_at = now() - interval '40 days' WHERE scope = 'old'");
      tx.execute("UPDATE applied_delta SET applied_at = now() - interval '40 days'");
    });

    List<StreamClient> clients = new ArrayList<>();
    try {
      for (int i = 0; i < CLIENTS; i++) {
        StreamClient client = new StreamClient(server.channel());
        // Each client writes its own scope and follows its neighbour's.
        client.hello("client-" + i, "", Subscription.newBuilder().addScopes(scope((i + 1) % CLIENTS)).build());
        client.awaitLive();
        clients.add(client);
      }

      AtomicBoolean writing = new AtomicBoolean(true);
      AtomicLong runs = new AtomicLong();
      AtomicLong purged = new AtomicLong();
      CompletableFuture<Void> cleaning = CompletableFuture.runAsync(() -> {
        Cleanup cleanup = new Cleanup(new CleanupStore(sql), new SyncStore(sql),
            () -> server.database().dataSource().getConnection(),
            Cleanup.Retention.of(Duration.ofDays(30), OpsConfig.defaults()), 5, Clock.systemUTC(),
            new SimpleMeterRegistry());
        while (writing.get() || runs.get() == 0) {
          Cleanup.Report report = cleanup.run(false);
          runs.incrementAndGet();
          purged.addAndGet(report.tombstones() + report.changeLog());
        }
      });

      List<CompletableFuture<List<DeltaResult>>> pushing = new ArrayList<>();
      for (int i = 0; i < CLIENTS; i++) {
        StreamClient client = clients.get(i);
        String scope = scope(i);
        pushing.add(CompletableFuture.supplyAsync(() -> {
          List<DeltaResult> results = new ArrayList<>();
          for (int b = 0; b < BATCHES; b++) {
            String id = "e" + b;
            List<Delta> batch = new ArrayList<>(List.of(in(scope, create(id, doc("v", "1"))),
                in(scope, update(id, 1, doc("v", "2")))));
            if (b % 3 == 0) {
              batch.add(in(scope, delete(id, 2)));
            }
            client.push("b" + b, batch.toArray(Delta[]::new));
            results.addAll(client.awaitResults("b" + b).getResultsList());
          }
          return results;
        }));
      }
      for (var push : pushing) {
        assertThat(push.get(120, TimeUnit.SECONDS)).hasSize(BATCHES * 2 + BATCHES / 3)
            .allMatch(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED);
      }
      writing.set(false);
      cleaning.get(120, TimeUnit.SECONDS);

      for (int i = 0; i < CLIENTS; i++) {
        String followed = scope((i + 1) % CLIENTS);
        long logged = sql.fetchOne("SELECT count(*) FROM change_log WHERE scope = ?", followed).get(0, Long.class);
        assertThat(logged).as("nothing recent was purged").isEqualTo(BATCHES * 2L + BATCHES / 3);
        List<Change> received = clients.get(i).awaitChanges((int) logged);
        Set<String> seen = new HashSet<>();
        Map<String, Change> state = new HashMap<>();
        for (Change change : received) {
          String key = change.getEntity().getEntityId() + "@" + change.getEntity().getRowVersion();
          assertThat(seen.add(key)).as("delivered once: " + key).isTrue();
          state.merge(change.getEntity().getEntityId(), change,
              (a, b) -> a.getEntity().getRowVersion() >= b.getEntity().getRowVersion() ? a : b);
        }
        Map<String, Long> live = new HashMap<>();
        state.forEach((id, change) -> {
          if (!change.getEntity().getIsDeleted()) {
            live.put(id, change.getEntity().getRowVersion());
          }
        });
        Map<String, Long> database = new HashMap<>();
        sql.fetch("SELECT entity_id, row_version FROM entity WHERE scope = ? AND NOT is_deleted", followed)
            .forEach(r -> database.put(r.get(0, String.class), r.get(1, Long.class)));
        assertThat(live).as("client-" + i + " holds what the database holds").isEqualTo(database);
        clients.get(i).assertOpen();
      }

      assertThat(runs.get()).isPositive();
      assertThat(sql.fetchOne("SELECT count(*) FROM entity WHERE scope = 'old' AND is_deleted").get(0, Long.class))
          .isZero();
      assertThat(sql.fetchOne("SELECT count(*) FROM change_log WHERE scope = 'old'").get(0, Long.class)).isZero();
      assertThat(purged.get()).isEqualTo(OLD / 2 + OLD + OLD / 2);
    } finally {
      clients.forEach(StreamClient::close);
    }
  }

  private static String scope(int client) {
    return "live-" + client;
  }
}

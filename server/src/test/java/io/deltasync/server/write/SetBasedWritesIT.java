package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.Timestamps;
import com.google.rpc.Code;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jooq.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The set-based write of a batch's plain deltas (one statement per run, writer per row, schema V14): every row is
 * logged as its own delta's, misses go through the conflict policy, a refused or absent delta is rejected alone
 * and not remembered, and plain-SQL writers are still logged as plain SQL.
 */
class SetBasedWritesIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = DeltaSyncServerExtension.withDefaultPolicy(
      ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  private static List<DeltaResult> push(String clientId, List<Delta> deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build())
        .getResultsList();
  }

  private static Delta inScope(Delta delta, String scope) {
    return delta.toBuilder().setScope(scope).build();
  }

  private static Delta at(Delta delta, long micros) {
    return delta.toBuilder().setClientModifiedAt(Timestamps.fromMicros(micros)).build();
  }

  private static List<Delta> creates(String scope, int n) {
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      batch.add(inScope(create("n" + i, doc("v", "created " + i)), scope));
    }
    return batch;
  }

  private static Record logged(String scope, String entityId, long rowVersion) {
    return server.sql().fetchOne("select operation, client_id, delta_id, last_modified_by, edits from change_log "
        + "where scope = ? and entity_id = ? and row_version = ?", scope, entityId, rowVersion);
  }

  /**
   * How many statements wrote the scope's current entity rows: rows written by one statement share its command id
   * (cmin) within their transaction; the per-delta path writes each row with a statement of its own.
   */
  private static long statementsThatWrote(String scope) {
    return server.sql().fetchOne("select count(distinct (xmin::text, cmin::text)) from entity where scope = ?",
        scope).get(0, Long.class);
  }

  /**
   * The change-log trigger logs an update of at most 8 rows and a larger one through different statements (V25):
   * single deltas (the one-row claim-and-write) and set-based batches on both sides of the boundary are each logged
   * exactly once, with their own delta, on the server's pooled connections where both plans are cached.
   */
  @Test
  void updatesOfEverySizeAreLoggedOncePerDelta() {
    for (int n : new int[] {1, 8, 9, 1, 30, 8, 1}) {
      String scope = "sizes-" + n + "-" + System.nanoTime();
      List<Delta> creates = creates(scope, n);
      assertThat(push("phone-sizes", creates)).extracting(DeltaResult::getStatus)
          .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
      List<Delta> updates = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Delta delta = i % 4 == 3 ? delete("n" + i, 1) : update("n" + i, 1, doc("v", "u" + i));
        updates.add(inScope(delta, scope));
      }
      assertThat(push("phone-sizes", updates)).extracting(DeltaResult::getStatus)
          .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
      for (int i = 0; i < n; i++) {
        Record second = logged(scope, "n" + i, 2);
        assertThat(second.get("operation", String.class)).as("n%d of %d", i, n)
            .isEqualTo(i % 4 == 3 ? "delete" : "update");
        assertThat(second.get("delta_id", String.class)).isEqualTo(updates.get(i).getDeltaId());
        assertThat(second.get("client_id", String.class)).isEqualTo("phone-sizes");
      }
      assertThat(server.sql().fetchOne("select count(*) from change_log where scope = ?", scope).get(0, Long.class))
          .as("one create and one change per entity, batch of %d", n).isEqualTo(2L * n);
      assertThat(server.sql().fetchOne("select count(*) from change_log c join entity e "
          + "using (scope, entity_type, entity_id) where scope = ? and c.row_version = e.row_version "
          + "and c.etag = e.etag and c.data is not distinct from (case when e.is_deleted then null else e.data end)",
          scope).get(0, Long.class)).as("the log's last row is the entity as stored").isEqualTo((long) n);
    }
  }

  @Test
  void everyRowOfABatchIsLoggedWithItsOwnDeltaAndClock() {
    String scope = "writer-per-row";
    long hourAgo = (System.currentTimeMillis() - 3_600_000L) * 1_000;
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      batch.add(at(inScope(create("n" + i, doc("v", "c" + i)), scope), hourAgo + i * 1_000_000L));
    }
    assertThat(push("phone-rows", batch)).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(statementsThatWrote(scope)).as("one set-based statement wrote all 50 rows").isEqualTo(1);
    List<Delta> updates = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      Delta delta = i % 5 == 0 ? delete("n" + i, 1) : update("n" + i, 1, doc("v", "u" + i));
      updates.add(at(inScope(delta, scope), hourAgo + (100 + i) * 1_000_000L));
    }
    assertThat(push("phone-rows", updates)).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(statementsThatWrote(scope)).as("one set-based statement for updates and deletes").isEqualTo(1);

    for (int i = 0; i < 50; i++) {
      Record create = logged(scope, "n" + i, 1);
      assertThat(create.get("operation", String.class)).isEqualTo("create");
      assertThat(create.get("client_id", String.class)).isEqualTo("phone-rows");
      assertThat(create.get("delta_id", String.class)).as("delta of n%d", i).isEqualTo(batch.get(i).getDeltaId());
      assertThat(create.get("edits", Object.class)).isNull();
      Record second = logged(scope, "n" + i, 2);
      assertThat(second.get("operation", String.class)).isEqualTo(i % 5 == 0 ? "delete" : "update");
      assertThat(second.get("client_id", String.class)).isEqualTo("phone-rows");
      assertThat(second.get("last_modified_by", String.class)).isEqualTo("phone-rows");
      assertThat(second.get("delta_id", String.class)).isEqualTo(updates.get(i).getDeltaId());
      Record row = server.sql().fetchOne("select write_clock_us, write_clock_by, field_clocks->'v'->>'t' as t, "
          + "writer_client_id, writer_delta_id from entity where scope = ? and entity_id = ?", scope, "n" + i);
      long expected = hourAgo + (100 + i) * 1_000_000L;
      assertThat(row.get("write_clock_us", Long.class)).as("clock of n%d", i).isEqualTo(expected);
      assertThat(row.get("write_clock_by", String.class)).isEqualTo("phone-rows");
      assertThat(row.get("writer_delta_id", String.class)).isEqualTo(updates.get(i).getDeltaId());
      if (i % 5 != 0) {
        assertThat(Long.parseLong(row.get("t", String.class))).as("field clock of n%d", i).isEqualTo(expected);
      }
    }
  }

  @Test
  void aDeltaIdAnotherClientAlsoUsedIsStillLoggedAsThisClients() {
    String scope = "shared-delta-id";
    Delta first = inScope(create("x", doc("v", "1")), scope).toBuilder().setDeltaId("same-id").build();
    push("phone-a", List.of(first, inScope(create("y", doc("v", "1")), scope)));
    Delta second = inScope(update("x", 1, doc("v", "2")), scope).toBuilder().setDeltaId("same-id").build();
    assertThat(push("phone-b", List.of(second, inScope(update("y", 1, doc("v", "2")), scope))))
        .extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);

    Record logged = logged(scope, "x", 2);
    assertThat(logged.get("client_id", String.class)).isEqualTo("phone-b");
    assertThat(logged.get("delta_id", String.class)).isEqualTo("same-id");
    assertThat(logged.get("last_modified_by", String.class)).isEqualTo("phone-b");
  }

  @Test
  void plainSqlAfterADeltaIsLoggedAsPlainSqlRowByRow() {
    String scope = "plain-after-delta";
    push("phone-p", creates(scope, 3));
    String user = server.sql().fetchOne("select session_user::text").get(0, String.class);

    server.sql().transaction(cfg -> {
      var sql = org.jooq.impl.DSL.using(cfg);
      sql.execute("update entity set data = jsonb_build_object('v', entity_id) where scope = ?", scope);
      sql.execute("update entity set is_deleted = true where scope = ? and entity_id = 'n2'", scope);
      sql.execute("insert into entity (scope, entity_type, entity_id, data) values (?, 'note', 'p1', '{}'), "
          + "(?, 'note', 'p2', '{}')", scope, scope);
    });
    for (String id : List.of("n0", "n1", "n2")) {
      Record update = logged(scope, id, 2);
      assertThat(update.get("operation", String.class)).isEqualTo("update");
      assertThat(update.get("client_id", String.class)).as("plain SQL has no client").isNull();
      assertThat(update.get("delta_id", String.class)).isNull();
      assertThat(update.get("last_modified_by", String.class)).isEqualTo(user);
    }
    assertThat(logged(scope, "n2", 3).get("operation", String.class)).isEqualTo("delete");
    assertThat(logged(scope, "p1", 1).get("operation", String.class)).isEqualTo("create");
    assertThat(logged(scope, "p2", 1).get("client_id", String.class)).isNull();
    assertThat(server.sql().fetchValue("select count(*) from entity where scope = ? and writer_delta_id is not null",
        scope)).as("the entity rows no longer name the delta").isEqualTo(0L);

    // Brought back over its tombstone by plain SQL: a 'create', still one log row per version.
    server.sql().execute("update entity set is_deleted = false where scope = ? and entity_id = 'n2'", scope);
    assertThat(logged(scope, "n2", 4).get("operation", String.class)).isEqualTo("create");
    assertThat(server.sql().fetchValue("select count(*) from change_log where scope = ?", scope)).isEqualTo(10L);
  }

  @Test
  void staleBasesInABatchGoThroughThePolicyAndReplayExactly() {
    String scope = "stale";
    push("phone-s", creates(scope, 10));
    List<Delta> updates = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      updates.add(inScope(update("n" + i, i % 3 == 0 ? 7 : 1, doc("v", "u" + i)), scope));
    }
    List<DeltaResult> results = push("phone-s", updates);
    for (int i = 0; i < 10; i++) {
      DeltaResult result = results.get(i);
      if (i % 3 == 0) {
        assertThat(result.getStatus()).as("n%d", i).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
        assertThat(result.getEntity().getRowVersion()).isEqualTo(1);
        assertThat(PushIT.reason(result)).isEqualTo("VERSION_CONFLICT");
      } else {
        assertThat(result.getStatus()).as("n%d", i).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(result.getEntity().getRowVersion()).isEqualTo(2);
      }
    }
    assertThat(server.sql().fetchOne("select count(distinct cmin::text) from entity where scope = ? "
        + "and row_version = 2", scope).get(0, Long.class)).as("the six hits in one statement").isEqualTo(1L);
    List<DeltaResult> replayed = push("phone-s", updates);
    for (int i = 0; i < 10; i++) {
      assertThat(replayed.get(i).getReplayed()).isTrue();
      assertThat(replayed.get(i).toBuilder().setReplayed(false).build()).isEqualTo(results.get(i));
    }
    assertThat(server.sql().fetchValue("select count(*) from change_log where scope = ?", scope)).isEqualTo(16L);
  }

  @Test
  void anUpdateOfAnAbsentEntityIsRejectedAloneAndNotRemembered() {
    String scope = "absent";
    push("phone-g", creates(scope, 3));
    Delta ghost = inScope(update("ghost", 1, doc("v", "boo")), scope);
    List<DeltaResult> results = push("phone-g", List.of(inScope(update("n0", 1, doc("v", "2")), scope), ghost,
        inScope(update("n1", 1, doc("v", "2")), scope), inScope(delete("n2", 1), scope)));

    assertThat(results.get(1).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(results.get(1).getError().getCode()).isEqualTo(Code.NOT_FOUND.getNumber());
    assertThat(List.of(results.get(0), results.get(2), results.get(3))).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(server.sql().fetchValue("select count(*) from applied_delta where client_id = 'phone-g' "
        + "and delta_id = ?", ghost.getDeltaId())).as("no idempotency record for a 'not yet'").isEqualTo(0L);

    // Once the entity exists, the same delta applies (it was not answered NOT_FOUND for ever).
    push("other", List.of(inScope(create("ghost", doc("v", "here")), scope)));
    DeltaResult retried = push("phone-g", List.of(ghost, inScope(update("n0", 2, doc("v", "3")), scope))).get(0);
    assertThat(retried.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(retried.getReplayed()).isFalse();
  }

  @Test
  void aRefusedUpdateIsRejectedAloneAndTheOther49Apply() {
    String scope = "refused-update";
    push("phone-r", creates(scope, 50));
    server.sql().execute("alter table entity add constraint test_no_forbidden_update check (not data ? 'forbidden')");
    try {
      List<Delta> updates = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        updates.add(inScope(update("n" + i, 1, doc(i == 31 ? "forbidden" : "v", "u" + i)), scope));
      }
      List<DeltaResult> results = push("phone-r", updates);
      for (int i = 0; i < 50; i++) {
        if (i == 31) {
          assertThat(results.get(i).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
          assertThat(results.get(i).getError().getCode()).isEqualTo(Code.INVALID_ARGUMENT.getNumber());
        } else {
          assertThat(results.get(i).getStatus()).as("n%d", i).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
          assertThat(results.get(i).getEntity().getRowVersion()).isEqualTo(2);
        }
      }
      assertThat(server.sql().fetchValue("select count(*) from applied_delta where client_id = 'phone-r' "
          + "and delta_id = ?", updates.get(31).getDeltaId())).isEqualTo(0L);
      assertThat(server.sql().fetchValue("select count(*) from change_log where scope = ?", scope)).isEqualTo(99L);
    } finally {
      server.sql().execute("alter table entity drop constraint if exists test_no_forbidden_update");
    }
  }

  @Test
  void chainsOfDeltasOfOneEntityInOneBatchApplyInOrder() {
    String scope = "chains";
    List<Delta> batch = List.of(
        inScope(create("a", doc("v", "a1")), scope),
        inScope(create("b", doc("v", "b1")), scope),
        inScope(update("a", 1, doc("v", "a2")), scope),
        inScope(update("b", 1, doc("v", "b2")), scope),
        inScope(create("c", doc("v", "c1")), scope),
        inScope(update("a", 2, doc("v", "a3")), scope),
        inScope(delete("b", 2), scope),
        inScope(update("c", 1, doc("v", "c2")), scope),
        inScope(update("a", 3, doc("v", "a4")), scope));
    List<DeltaResult> results = push("phone-c", batch);
    assertThat(results).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results).extracting(r -> r.getEntity().getRowVersion())
        .containsExactly(1L, 1L, 2L, 2L, 1L, 3L, 3L, 2L, 4L);
    assertThat(server.sql().fetchValue("select data->>'v' from entity where scope = ? and entity_id = 'a'", scope))
        .isEqualTo("a4");
    assertThat(server.sql().fetch("select entity_id, row_version, delta_id from change_log where scope = ? "
        + "order by tx_id, change_id", scope).stream()
        .filter(r -> r.get("entity_id").equals("a")).map(r -> r.get("delta_id", String.class)).toList())
        .as("a's changes in version order, each with its own delta")
        .containsExactly(batch.get(0).getDeltaId(), batch.get(2).getDeltaId(), batch.get(5).getDeltaId(),
            batch.get(8).getDeltaId());
  }

  @Test
  void concurrentBatchesCreatingTheSameEntitiesHaveOneWinnerEach() throws Exception {
    String scope = "create-race";
    int clients = 8;
    int entities = 30;
    ExecutorService threads = Executors.newFixedThreadPool(clients);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<List<DeltaResult>>> futures = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        String clientId = "creator-" + c;
        List<Delta> batch = new ArrayList<>();
        for (int i = 0; i < entities; i++) {
          batch.add(inScope(create("n" + ((i + c * 7) % entities), doc("v", clientId)), scope));
        }
        Callable<List<DeltaResult>> client = () -> {
          start.await();
          for (int attempt = 0; ; attempt++) {
            List<DeltaResult> results = push(clientId, batch);
            boolean aborted = results.stream().anyMatch(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED
                && r.getError().getCode() == Code.ABORTED.getNumber());
            if (!aborted || attempt > 20) {
              return results;
            }
          }
        };
        futures.add(threads.submit(client));
      }
      start.countDown();
      Map<String, Integer> winners = new HashMap<>();
      for (Future<List<DeltaResult>> future : futures) {
        for (DeltaResult result : future.get(120, TimeUnit.SECONDS)) {
          assertThat(result.getStatus()).as("%s", result)
              .isIn(DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_CONFLICT);
          assertThat(result.getEntity().getRowVersion()).isEqualTo(1);
          if (result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
            winners.merge(result.getEntity().getEntityId(), 1, Integer::sum);
          }
        }
      }
      for (int i = 0; i < entities; i++) {
        assertThat(winners.get("n" + i)).as("winners for n%d", i).isEqualTo(1);
      }
      assertThat(server.sql().fetchValue("select count(*) from change_log where scope = ?", scope))
          .isEqualTo((long) entities);
    } finally {
      threads.shutdownNow();
    }
  }
  @Test
  void resultsBiggerThanTheirDeltasStillFitOneResponse() {
    String scope = "big-results";
    push("phone-big", creates(scope, 30));
    // Another service left a large conflict_data on every entity: each small update's result carries ~200 KB.
    server.sql().execute("update entity set conflict_data = jsonb_build_object('note', repeat('x', 200000)) "
        + "where scope = ?", scope);
    List<Delta> updates = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      updates.add(inScope(update("n" + i, 2, doc("v", "small")), scope));
    }
    List<DeltaResult> results = push("phone-big", updates);

    int applied = 0;
    while (applied < 30 && results.get(applied).getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
      applied++;
    }
    assertThat(applied).as("some applied, then the response budget").isBetween(1, 29);
    for (int i = applied; i < 30; i++) {
      assertThat(results.get(i).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
      assertThat(results.get(i).getError().getCode()).isEqualTo(Code.RESOURCE_EXHAUSTED.getNumber());
    }
    assertThat(server.sql().fetchValue("select count(*) from entity where scope = ? and row_version = 3", scope))
        .as("exactly the answered deltas were applied").isEqualTo((long) applied);
    assertThat(server.sql().fetchValue("select count(*) from applied_delta where client_id = 'phone-big' "
        + "and (result is not null or written_entity is not null or written_meta is not null)"))
        .isEqualTo(30L + applied);
  }
  @Test
  void multiRowPlainSqlStatementsReachLiveStreamsRowByRow() {
    String scope = "plain-live";
    try (StreamClient stream = new StreamClient(server.channel())) {
      stream.hello("watcher-plain", "", Subscription.newBuilder().addScopes(scope).build());
      stream.awaitLive();
      // Another service writes 20 rows with one INSERT, then changes them all with one UPDATE: the statement-level
      // log triggers (V14) append one change per row, which polling delivers.
      server.sql().execute("insert into entity (scope, entity_type, entity_id, data) "
          + "select ?, 'note', 'row-' || g, jsonb_build_object('n', g) from generate_series(1, 20) g", scope);
      server.sql().execute("update entity set data = data || '{\"done\": true}' where scope = ?", scope);
      List<io.deltasync.v1.Change> changes = stream.awaitChanges(40);
      assertThat(changes.stream().map(c -> c.getEntity().getEntityId() + "@" + c.getEntity().getRowVersion())
          .distinct()).hasSize(40);
      assertThat(changes).filteredOn(c -> c.getEntity().getRowVersion() == 2).hasSizeGreaterThanOrEqualTo(20)
          .allMatch(c -> c.getEntity().getData().getFieldsMap().containsKey("done"))
          .allMatch(c -> c.getClientId().isEmpty());
    }
  }
}

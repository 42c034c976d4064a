package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.LockWaiters;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Adversarial cases of the write-first, claim-after statements (V19, written_entity), and the regression of a delta
 * id reused after its idempotency record expired for the entity its earlier use wrote (V22: the stamping trigger
 * took such a write for plain SQL).
 */
class ReusedDeltaIdSameEntityIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withConflicts(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, config.conflicts())
      .withAdmission(config.admission().withEntityStripes(0)));

  private static Delta in(String scope, Delta delta) {
    return delta.toBuilder().setScope(scope).build();
  }

  private static List<DeltaResult> push(String clientId, List<Delta> deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build())
        .getResultsList();
  }

  private static DeltaResult push(String clientId, Delta delta) {
    return push(clientId, List.of(delta)).get(0);
  }

  private static long count(String sql, Object... binds) {
    return ((Number) server.sql().fetchValue(sql, binds)).longValue();
  }

  private static DeltaResult unreplayed(DeltaResult r) {
    return r.toBuilder().setReplayed(false).build();
  }

  /**
   * The same delete pushed alone (per-delta path: claim first, then the write) and inside a batch (set-based:
   * write first, then the claim) at the same moment, e.g. on two nodes: applied once, both answers the same.
   */
  @Test
  void oneDeleteRetriedAloneAndInABatchAtOnceIsAppliedOnceWithOneAnswer() throws Exception {
    String scope = "cross-path-delete";
    push("phone-x", List.of(in(scope, create("a", doc("v", "1"))), in(scope, create("b", doc("v", "1")))));
    Delta del = in(scope, delete("a", 1));
    Delta other = in(scope, update("b", 1, doc("v", "2")));
    List<List<DeltaResult>> answers = race(scope, List.of("a", "b"), List.of(List.of(del), List.of(del, other)), 2);
    DeltaResult alone = answers.get(0).get(0);
    DeltaResult batched = answers.get(1).get(0);
    assertThat(List.of(alone, batched)).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(List.of(alone, batched).stream().filter(r -> !r.getReplayed()).count()).isEqualTo(1);
    assertThat(unreplayed(alone)).isEqualTo(unreplayed(batched));
    assertThat(count("select count(*) from change_log where scope = ? and entity_id = 'a'", scope)).isEqualTo(2);
  }

  /**
   * A hostile client reuses two delta ids in two batches at once, in opposite orders, for other entities: every
   * delta id is applied for exactly one entity, the other is refused as reused, nothing is written twice.
   */
  @Test
  void twoIdsReusedInOppositeOrdersByTwoBatchesAtOnceApplyEachIdOnce() throws Exception {
    String scope = "hostile-ids";
    push("phone-h", List.of(in(scope, create("a", doc("v", "1"))), in(scope, create("b", doc("v", "1"))),
        in(scope, create("c", doc("v", "1"))), in(scope, create("d", doc("v", "1")))));
    List<Delta> p = List.of(in(scope, update("a", 1, doc("v", "p"))).toBuilder().setDeltaId("id-1").build(),
        in(scope, update("b", 1, doc("v", "p"))).toBuilder().setDeltaId("id-2").build());
    List<Delta> q = List.of(in(scope, update("c", 1, doc("v", "q"))).toBuilder().setDeltaId("id-2").build(),
        in(scope, update("d", 1, doc("v", "q"))).toBuilder().setDeltaId("id-1").build());
    List<List<DeltaResult>> answers = race(scope, List.of("a", "b", "c", "d"), List.of(p, q), 2);
    long applied = answers.stream().flatMap(List::stream)
        .filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED).count();
    assertThat(applied).as("each id applied once: %s", answers).isEqualTo(2);
    assertThat(count("select count(*) from entity where scope = ? and row_version = 2", scope)).isEqualTo(2);
    assertThat(count("select count(*) from change_log where scope = ? and operation = 'update'", scope))
        .isEqualTo(2);
  }

  /**
   * The answer rebuilt from written_entity is the first answer byte for byte, for a row that plain SQL created with
   * values a client cannot send (created_at far in the past, exact numbers), after the entity changed, was deleted,
   * and the change log was truncated.
   */
  @Test
  void replayedAnswersAreTheFirstOnesForRowsWrittenByPlainSql() {
    String scope = "plain-sql-values";
    for (String id : List.of("s", "t", "u")) {
      server.sql().execute("insert into entity (scope, entity_type, entity_id, data, created_at) values (?, 'note', ?, "
          + "'{\"n\": 1.0, \"big\": 123456789012345678901234567890, \"d\": 0.1000, \"u\": \"\u00e9\u2603\ud83d\ude00\"}'"
          + "::jsonb, '0044-03-15 12:34:56.789012 BC')", scope, id);
    }
    server.sql().execute("update entity set created_at = '294276-12-31 23:59:59.999999+00' where scope = ? "
        + "and entity_id = 'u'", scope);
    long version = count("select row_version from entity where scope = ? and entity_id = 's'", scope);
    Delta single = in(scope, update("s", version, doc("v", "1")));
    DeltaResult first = push("phone-v", single);
    List<Delta> batch = List.of(in(scope, update("t", version, doc("v", "1"))),
        in(scope, update("u", count("select row_version from entity where scope = ? and entity_id = 'u'", scope),
            doc("v", "1"))));
    List<DeltaResult> firstBatch = push("phone-v", batch);
    assertThat(first.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(firstBatch).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    server.sql().execute("update entity set data = data || '{\"later\": true}' where scope = ?", scope);
    server.sql().execute("truncate change_log");
    assertThat(unreplayed(push("phone-v", single))).isEqualTo(first);
    List<DeltaResult> again = push("phone-v", batch);
    for (int i = 0; i < batch.size(); i++) {
      assertThat(again.get(i).getReplayed()).isTrue();
      assertThat(unreplayed(again.get(i))).isEqualTo(firstBatch.get(i));
    }
    // and with the single and the batch swapped (the per-delta path reads what the set-based claim stored)
    assertThat(unreplayed(push("phone-v", batch.get(0)))).isEqualTo(firstBatch.get(0));
    List<DeltaResult> swapped = push("phone-v", List.of(single, batch.get(1)));
    assertThat(unreplayed(swapped.get(0))).isEqualTo(first);
  }

  /**
   * A batch mixing plain writes, a conflict decided by the manual policy, a delta the database refuses (an operator's
   * CHECK constraint: the savepoint path) and a repeat of an earlier delta: every delta is answered, every applied or
   * decided delta has exactly one claim holding exactly one first result, the refused one none, and the retry of the
   * whole batch gets the same answers.
   */
  @Test
  void aMixedBatchWithARefusedDeltaHasOneClaimAndOneResultPerDecidedDelta() {
    String scope = "mixed-batch";
    push("phone-m", List.of(in(scope, create("e", doc("v", "1"))), in(scope, create("f", doc("v", "1")))));
    push("phone-other", in(scope, update("f", 1, doc("v", "other"))));
    server.sql().execute("alter table entity add constraint review_no_bad check (data->>'bad' is null) not valid");
    try {
      Delta a = in(scope, create("a", doc("v", "1")));
      Delta bad = in(scope, create("bad", doc("bad", "yes")));
      Delta c = in(scope, create("c", doc("v", "1")));
      Delta upd = in(scope, update("e", 1, doc("v", "2")));
      Delta manual = in(scope, update("f", 1, doc("v", "mine")))
          .toBuilder().setConflictPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_MANUAL).build();
      List<Delta> batch = List.of(a, bad, c, upd, manual, a);
      List<DeltaResult> first = push("phone-m", batch);
      assertThat(first.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(first.get(1).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
      assertThat(first.get(2).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(first.get(3).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(first.get(4).getStatus()).isNotEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(first.get(5).getReplayed()).isTrue();
      assertThat(unreplayed(first.get(5))).isEqualTo(first.get(0));
      for (Delta d : List.of(a, c, upd, manual)) {
        assertThat(count("select count(*) from applied_delta where client_id = 'phone-m' and delta_id = ? and "
            + "num_nonnulls(result, written_entity, written_meta) = 1", d.getDeltaId())).as("one first result for %s",
            d.getEntityId()).isEqualTo(1);
      }
      assertThat(count("select count(*) from applied_delta where delta_id = ?", bad.getDeltaId())).isZero();
      List<DeltaResult> again = push("phone-m", batch);
      for (int i : new int[] {0, 2, 3, 4, 5}) {
        assertThat(again.get(i).getReplayed()).as("delta %d", i).isTrue();
        assertThat(unreplayed(again.get(i))).as("delta %d", i).isEqualTo(unreplayed(first.get(i)));
      }
      assertThat(count("select count(*) from change_log where scope = ? and entity_id in ('a', 'c')", scope))
          .isEqualTo(2);
    } finally {
      server.sql().execute("alter table entity drop constraint review_no_bad");
    }
  }

  /**
   * A client reuses a delta id whose idempotency record expired (clean-up, DELTASYNC_CLEANUP_APPLIED_DELTA_DAYS) for
   * a new update of the entity that delta id last wrote (docs/protocol.md: "a delta id applied again after its record
   * expired writes rows naming the same client_id and delta_id"). Set-based, the write happens, so the delta must be
   * answered APPLIED with the entity it wrote, written once, its claim holding that entity.
   */
  @Test
  void aDeltaIdAppliedAgainAfterItsRecordExpiredIsAnsweredAsTheWriteItMade() {
    String scope = "expired-id";
    push("phone-e", List.of(in(scope, create("a", doc("v", "1"))), in(scope, create("b", doc("v", "1")))));
    push("phone-e", List.of(in(scope, update("a", 1, doc("v", "2"))).toBuilder().setDeltaId("reused").build(),
        in(scope, update("b", 1, doc("v", "2")))));
    server.sql().execute("delete from applied_delta where client_id = 'phone-e' and delta_id = 'reused'");
    List<DeltaResult> answers = push("phone-e", List.of(
        in(scope, update("a", 2, doc("v", "3"))).toBuilder().setDeltaId("reused").build(),
        in(scope, update("b", 2, doc("v", "3")))));
    assertThat(count("select row_version from entity where scope = ? and entity_id = 'a'", scope)).isEqualTo(3);
    assertThat(answers.get(0).getStatus()).as("%s", answers.get(0)).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(answers.get(0).getEntity().getRowVersion()).isEqualTo(3);
    assertThat(server.sql().fetchValue("select delta_id from change_log where scope = ? and entity_id = 'a' "
        + "and row_version = 3", scope)).isEqualTo("reused");
    assertThat(count("select count(*) from applied_delta where client_id = 'phone-e' and delta_id = 'reused' "
        + "and (written_entity is not null or written_meta is not null)")).isEqualTo(1);
  }

  /** As above with the client-wins policy: the delta is written twice (two versions, two change-log rows). */
  @Test
  void aDeltaIdAppliedAgainAfterItsRecordExpiredIsNotWrittenTwiceUnderClientWins() {
    String scope = "expired-id-cw";
    push("phone-e2", List.of(in(scope, create("a", doc("v", "1"))), in(scope, create("b", doc("v", "1")))));
    push("phone-e2", List.of(in(scope, update("a", 1, doc("v", "2"))).toBuilder().setDeltaId("reused").build(),
        in(scope, update("b", 1, doc("v", "2")))));
    server.sql().execute("delete from applied_delta where client_id = 'phone-e2' and delta_id = 'reused'");
    List<DeltaResult> answers = push("phone-e2", List.of(
        in(scope, update("a", 2, doc("v", "3"))).toBuilder().setDeltaId("reused")
            .setConflictPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_CLIENT_WINS).build(),
        in(scope, update("b", 2, doc("v", "3")))));
    assertThat(answers.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(count("select count(*) from change_log where scope = ? and entity_id = 'a' and row_version > 2",
        scope)).as("the delta is one write").isEqualTo(1);
    assertThat(count("select row_version from entity where scope = ? and entity_id = 'a'", scope)).isEqualTo(3);
  }

  /**
   * Single-delta path, same reuse: the answer is right, but the row and its change-log entry must name the client
   * and delta that wrote them (own-change suppression and last_modified_by depend on it), not the database user.
   */
  @Test
  void aDeltaIdAppliedAgainAfterItsRecordExpiredNamesItsWriter() {
    String scope = "expired-id-single";
    push("phone-e3", in(scope, create("a", doc("v", "1"))));
    push("phone-e3", in(scope, update("a", 1, doc("v", "2"))).toBuilder().setDeltaId("reused").build());
    server.sql().execute("delete from applied_delta where client_id = 'phone-e3' and delta_id = 'reused'");
    DeltaResult answer = push("phone-e3",
        in(scope, update("a", 2, doc("v", "3"))).toBuilder().setDeltaId("reused").build());
    assertThat(answer.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(answer.getEntity().getLastModifiedBy()).isEqualTo("phone-e3");
    assertThat(server.sql().fetchValue("select coalesce(client_id, '<null>') || '/' || coalesce(delta_id, '<null>') "
        + "from change_log where scope = ? and entity_id = 'a' and row_version = 3", scope))
        .isEqualTo("phone-e3/reused");
  }

  /**
   * After such a write, plain SQL that does not name the writer columns is still plain SQL (the flag the server sets,
   * writer_supplied, is never stored, so a plain UPDATE cannot inherit it), and the flag is never left on a row.
   */
  @Test
  void plainSqlAfterAReusedIdWriteIsStillLoggedAsPlainSql() {
    String scope = "expired-id-then-plain";
    push("phone-e4", List.of(in(scope, create("a", doc("v", "1"))), in(scope, create("b", doc("v", "1")))));
    push("phone-e4", in(scope, update("a", 1, doc("v", "2"))).toBuilder().setDeltaId("reused").build());
    server.sql().execute("delete from applied_delta where client_id = 'phone-e4' and delta_id = 'reused'");
    List<DeltaResult> answers = push("phone-e4", List.of(
        in(scope, update("a", 2, doc("v", "3"))).toBuilder().setDeltaId("reused").build(),
        in(scope, update("b", 1, doc("v", "2")))));
    assertThat(answers).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    server.sql().execute("update entity set data = data || '{\"plain\": true}' where scope = ?", scope);
    assertThat(count("select count(*) from change_log where scope = ? and row_version = 4 and entity_id = 'a' "
        + "and client_id is null and delta_id is null and last_modified_by = session_user", scope)).isEqualTo(1);
    assertThat(count("select count(*) from change_log where scope = ? and entity_id = 'b' and row_version = 3 "
        + "and client_id is null and last_modified_by = session_user", scope)).isEqualTo(1);
    assertThat(count("select count(*) from entity where scope = ? and (writer_client_id is not null "
        + "or writer_delta_id is not null)", scope)).isZero();
    assertThat(count("select count(*) from entity where writer_supplied is not null")).isZero();
  }

  private static List<List<DeltaResult>> race(String scope, List<String> ids, List<List<Delta>> batches,
      int waiters) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(batches.size());
    try (Connection holder = server.database().dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (PreparedStatement lock = holder.prepareStatement(
          "select 1 from entity where scope = ? and entity_id = any (?) for update")) {
        lock.setString(1, scope);
        lock.setArray(2, holder.createArrayOf("text", ids.toArray()));
        lock.executeQuery().close();
      }
      List<Future<List<DeltaResult>>> pushes = new ArrayList<>();
      for (List<Delta> batch : batches) {
        pushes.add(threads.submit(() -> push("phone-race", batch)));
        Thread.sleep(200);
      }
      LockWaiters.await(server.database().dataSource(), waiters, null);
      holder.rollback();
      List<List<DeltaResult>> answers = new ArrayList<>();
      for (Future<List<DeltaResult>> push : pushes) {
        answers.add(push.get());
      }
      return answers;
    } finally {
      threads.shutdownNow();
    }
  }
}

package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
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
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The single-delta claim-and-write writes first and claims after, in one statement, and the claim stores the
 * written entity instead of a second write of the result (V19, docs/performance.md "Fourth part"). What that order
 * newly risks is a concurrent transaction's claim the statement's snapshot cannot see: these tests make two pushes
 * pass the statement's gate together (both wait on a row lock held by the test) and hold the outcome to "exactly one
 * write, one answer". Admission control is off, so that the two pushes meet in PostgreSQL as they would on two
 * nodes (one node's admission would queue them before the database).
 */
class WriteThenClaimIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withConflicts(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, config.conflicts())
      .withAdmission(config.admission().withEntityStripes(0)));

  private static Delta in(String scope, Delta delta) {
    return delta.toBuilder().setScope(scope).build();
  }

  private static DeltaResult push(String clientId, Delta delta) {
    return push(clientId, List.of(delta)).get(0);
  }

  private static List<DeltaResult> push(String clientId, List<Delta> deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build())
        .getResultsList();
  }

  private static long count(String sql, Object... binds) {
    return ((Number) server.sql().fetchValue(sql, binds)).longValue();
  }

  @Test
  void plainlyAppliedDeltasStoreTheirEntityWithTheClaimAndNoResult() {
    String scope = "stored-with-claim";
    DeltaResult created = push("phone-s", in(scope, create("a", doc("v", "1"))));
    DeltaResult updated = push("phone-s", in(scope, update("a", 1, doc("v", "2"))));
    assertThat(List.of(created, updated)).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    List<DeltaResult> batch = push("phone-s", List.of(in(scope, create("b", doc("v", "1"))),
        in(scope, create("c", doc("v", "1")))));
    assertThat(batch).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(count("select count(*) from applied_delta where client_id = 'phone-s' and result is null "
        + "and (written_entity is not null or written_meta is not null)")).as("claims holding their entity, no "
        + "result written").isEqualTo(4);
  }

  @Test
  void aDeltaRepeatedInOneBatchIsAnsweredFromTheEntityItsClaimStored() {
    String scope = "repeated";
    Delta a = in(scope, create("a", doc("v", "1")));
    List<DeltaResult> results = push("phone-r", List.of(a, a));
    assertThat(results.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results.get(1).getReplayed()).isTrue();
    assertThat(results.get(1).toBuilder().setReplayed(false).build()).isEqualTo(results.get(0));
    assertThat(count("select count(*) from change_log where scope = ?", scope)).isEqualTo(1);
  }

  @Test
  void concurrentRetriesOfOneUpdatePastTheGateWriteOnceAndGetTheSameResult() throws Exception {
    String scope = "racing-retries";
    push("phone-c", in(scope, create("x", doc("v", "1"))));
    Delta retried = in(scope, update("x", 1, doc("v", "2")));
    List<DeltaResult> answers = raceBehindRowLocks(scope, List.of("x"), List.of(retried, retried));
    assertThat(answers).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(answers.stream().filter(answer -> !answer.getReplayed()).count()).as("applied once").isEqualTo(1);
    assertThat(answers.get(0).toBuilder().setReplayed(false).build())
        .isEqualTo(answers.get(1).toBuilder().setReplayed(false).build());
    assertThat(answers.get(0).getEntity().getRowVersion()).isEqualTo(2);
    assertThat(count("select row_version from entity where scope = ? and entity_id = 'x'", scope)).isEqualTo(2);
    assertThat(count("select count(*) from change_log where scope = ?", scope)).as("written once").isEqualTo(2);
  }

  @Test
  void oneDeltaIdUsedConcurrentlyForTwoEntitiesWritesOnlyTheOneThatClaimedIt() throws Exception {
    String scope = "racing-reuse";
    push("phone-u", List.of(in(scope, create("x", doc("v", "1"))), in(scope, create("y", doc("v", "1")))));
    Delta forX = in(scope, update("x", 1, doc("v", "2"))).toBuilder().setDeltaId("same-id").build();
    Delta forY = in(scope, update("y", 1, doc("v", "2"))).toBuilder().setDeltaId("same-id").build();
    List<DeltaResult> answers = raceBehindRowLocks(scope, List.of("x", "y"), List.of(forX, forY));
    assertThat(answers).extracting(DeltaResult::getStatus)
        .containsExactlyInAnyOrder(DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_REJECTED);
    DeltaResult refused = answers.stream().filter(a -> a.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED)
        .findFirst().orElseThrow();
    assertThat(refused.getError().getDetails(0).unpack(com.google.rpc.ErrorInfo.class).getReason())
        .isEqualTo("DELTA_ID_REUSED");
    String loser = answers.get(0) == refused ? "x" : "y";
    assertThat(count("select row_version from entity where scope = ? and entity_id = ?", scope, loser))
        .as("the write of the delta that lost the claim was rolled back").isEqualTo(1);
    assertThat(count("select count(*) from change_log where scope = ? and operation = 'update'", scope))
        .as("one update written").isEqualTo(1);
  }

  @Test
  void concurrentRetriesOfOneBatchPastTheGateWriteOnceAndGetTheSameResults() throws Exception {
    String scope = "racing-batches";
    push("phone-c", List.of(in(scope, create("x", doc("v", "1"))), in(scope, create("y", doc("v", "1")))));
    List<Delta> retried = List.of(in(scope, update("x", 1, doc("v", "2"))), in(scope, update("y", 1, doc("v", "2"))));
    List<List<DeltaResult>> answers = raceBatchesBehindRowLocks(scope, List.of("x", "y"), List.of(retried, retried));
    for (int i = 0; i < 2; i++) {
      int delta = i;
      assertThat(answers).extracting(answer -> answer.get(delta).getStatus())
          .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(answers.stream().filter(answer -> !answer.get(delta).getReplayed()).count())
          .as("delta %d applied once", i).isEqualTo(1);
      assertThat(answers.get(0).get(i).toBuilder().setReplayed(false).build())
          .isEqualTo(answers.get(1).get(i).toBuilder().setReplayed(false).build());
    }
    assertThat(count("select count(*) from entity where scope = ? and row_version = 2", scope)).isEqualTo(2);
    assertThat(count("select count(*) from change_log where scope = ?", scope)).as("written once").isEqualTo(4);
  }

  @Test
  void oneDeltaIdUsedConcurrentlyInTwoBatchesWritesOnlyTheOneThatClaimedIt() throws Exception {
    String scope = "racing-batch-reuse";
    push("phone-u", List.of(in(scope, create("x", doc("v", "1"))), in(scope, create("y", doc("v", "1"))),
        in(scope, create("z", doc("v", "1"))), in(scope, create("w", doc("v", "1")))));
    List<Delta> first = List.of(in(scope, update("x", 1, doc("v", "2"))).toBuilder().setDeltaId("shared").build(),
        in(scope, update("y", 1, doc("v", "2"))));
    List<Delta> second = List.of(in(scope, update("z", 1, doc("v", "2"))).toBuilder().setDeltaId("shared").build(),
        in(scope, update("w", 1, doc("v", "2"))));
    List<List<DeltaResult>> answers = raceBatchesBehindRowLocks(scope, List.of("x", "y", "z", "w"),
        List.of(first, second));
    assertThat(List.of(answers.get(0).get(1), answers.get(1).get(1))).extracting(DeltaResult::getStatus)
        .as("the deltas with their own ids").containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(List.of(answers.get(0).get(0), answers.get(1).get(0))).extracting(DeltaResult::getStatus)
        .containsExactlyInAnyOrder(DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_REJECTED);
    String loser = answers.get(0).get(0).getStatus() == DeltaStatus.DELTA_STATUS_REJECTED ? "x" : "z";
    DeltaResult refused = answers.get(loser.equals("x") ? 0 : 1).get(0);
    assertThat(refused.getError().getDetails(0).unpack(com.google.rpc.ErrorInfo.class).getReason())
        .isEqualTo("DELTA_ID_REUSED");
    assertThat(count("select row_version from entity where scope = ? and entity_id = ?", scope, loser))
        .as("the write of the delta that lost the claim was rolled back").isEqualTo(1);
    assertThat(count("select count(*) from change_log where scope = ? and operation = 'update'", scope))
        .as("three updates written").isEqualTo(3);
  }

  /**
   * Holds the row locks of {@code ids} in another transaction, starts one push per delta (client "phone-race"),
   * waits until every push waits for a lock inside PostgreSQL (so every statement has taken its snapshot and passed
   * the gate), then lets them go. Returns the answers in the order of {@code deltas}.
   */
  private static List<DeltaResult> raceBehindRowLocks(String scope, List<String> ids, List<Delta> deltas)
      throws Exception {
    return raceBatchesBehindRowLocks(scope, ids, deltas.stream().map(List::of).toList()).stream()
        .map(answer -> answer.get(0)).toList();
  }

  /** As {@link #raceBehindRowLocks}, one push per batch. */
  private static List<List<DeltaResult>> raceBatchesBehindRowLocks(String scope, List<String> ids,
      List<List<Delta>> batches) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(batches.size());
    try (Connection holder = server.database().dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (PreparedStatement lock = holder.prepareStatement(
          "select 1 from entity where scope = ? and entity_id = any (?) for update")) {
        lock.setString(1, scope);
        lock.setArray(2, holder.createArrayOf("text", ids.toArray()));
        lock.executeQuery().close();
      }
      List<Future<List<DeltaResult>>> pushes = batches.stream()
          .map(batch -> threads.submit(() -> push("phone-race", batch))).toList();
      LockWaiters.await(server.database().dataSource(), batches.size(), "%applied_delta%");
      holder.rollback();
      List<List<DeltaResult>> answers = new java.util.ArrayList<>();
      for (Future<List<DeltaResult>> push : pushes) {
        answers.add(push.get());
      }
      return answers;
    } finally {
      threads.shutdownNow();
    }
  }
}

package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ops.Cleanup;
import io.deltasync.server.store.CleanupStore;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A delta applied by a plain write (a create, a compare-and-set update or delete that nothing had to decide about)
 * has its result stored with its idempotency record, in the transaction that claims it, like every other delta.
 * These tests hold a retry's answer to the one the first push got, whatever happened to the entity since, through
 * clean-up, and under concurrent retries; through both the single-delta statement (batches of one) and the
 * set-based one (batches of several).
 */
class PlainResultReplayIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

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

  // A first result is stored as the result itself, or (a delta applied by the single-delta claim-and-write, V19) as
  // the entity its claim holds.
  private static long storedResults(String clientId) {
    return count("select count(*) from applied_delta where client_id = ? and (result is not null "
        + "or written_entity is not null or written_meta is not null)", clientId);
  }

  private static long count(String sql, Object... binds) {
    return ((Number) server.sql().fetchValue(sql, binds)).longValue();
  }

  private static void assertReplays(List<DeltaResult> first, List<DeltaResult> retried) {
    assertThat(retried).hasSameSizeAs(first);
    for (int i = 0; i < first.size(); i++) {
      assertThat(retried.get(i).getReplayed()).as("result %d replayed", i).isTrue();
      assertThat(retried.get(i).toBuilder().setReplayed(false).build()).as("result %d", i).isEqualTo(first.get(i));
    }
  }

  @Test
  void aRetryAfterTheEntityChangedAgainGetsTheOriginalResult() {
    String scope = "changed-since";
    // Single deltas: a create, then a compare-and-set update.
    Delta created = in(scope, create("single", doc("v", "1")));
    Delta updated = in(scope, update("single", 1, doc("v", "2")));
    List<DeltaResult> singles = List.of(push("phone-s", created), push("phone-s", updated));
    // A batch: set-based creates, then set-based updates and a delete.
    List<Delta> creates = List.of(in(scope, create("b0", doc("v", "1"))), in(scope, create("b1", doc("v", "1"))),
        in(scope, create("b2", doc("v", "1"))));
    List<DeltaResult> batchCreates = push("phone-s", creates);
    List<Delta> writes = List.of(in(scope, update("b0", 1, doc("v", "2"))), in(scope, update("b1", 1,
        doc("v", "2"))), in(scope, delete("b2", 1)));
    List<DeltaResult> batchWrites = push("phone-s", writes);
    assertThat(singles).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(batchCreates).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(batchWrites).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(storedResults("phone-s")).as("the result of every plain write is stored").isEqualTo(2L + 3 + 3);

    // Another client moves every entity on.
    push("phone-other", List.of(in(scope, update("single", 2, doc("v", "later"))),
        in(scope, update("b0", 2, doc("v", "later"))), in(scope, update("b1", 2, doc("v", "later"))),
        in(scope, create("b2", doc("v", "again")).toBuilder().setBaseRowVersion(2).build())));

    assertReplays(singles, List.of(push("phone-s", created), push("phone-s", updated)));
    assertReplays(batchCreates, push("phone-s", creates));
    assertReplays(batchWrites, push("phone-s", writes));
    // Retried one at a time (the single-delta path) and mixed into one batch.
    assertReplays(List.of(batchCreates.get(1)), List.of(push("phone-s", creates.get(1))));
    assertReplays(List.of(singles.get(1), batchWrites.get(2)), push("phone-s", List.of(updated, writes.get(2))));
    assertThat(count("select count(*) from change_log where scope = ?", scope))
        .as("nothing applied twice").isEqualTo(2L + 3 + 3 + 4);
  }

  @Test
  void aRetryInTheSameBatchGetsTheResultOfTheFirst() {
    String scope = "same-batch";
    Delta a = in(scope, create("a", doc("v", "1")));
    Delta b = in(scope, create("b", doc("v", "1")));
    List<DeltaResult> results = push("phone-d", List.of(a, b, a, b));
    assertThat(results.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results.get(2).getReplayed()).isTrue();
    assertThat(results.get(2).toBuilder().setReplayed(false).build()).isEqualTo(results.get(0));
    assertThat(results.get(3).toBuilder().setReplayed(false).build()).isEqualTo(results.get(1));
  }

  @Test
  void concurrentRetriesOfOneDeltaWriteOnceAndAllGetTheSameResult() throws Exception {
    int writers = 8;
    for (int round = 0; round < 6; round++) {
      String scope = "concurrent-" + round;
      // Even rounds: one delta (the single-delta statement); odd rounds: a batch of three (set-based).
      List<Delta> batch = round % 2 == 0 ? List.of(in(scope, create("x", doc("v", "1"))))
          : List.of(in(scope, create("x", doc("v", "1"))), in(scope, create("y", doc("v", "1"))),
              in(scope, create("z", doc("v", "1"))));
      ExecutorService threads = Executors.newFixedThreadPool(writers);
      try {
        CountDownLatch start = new CountDownLatch(1);
        List<Future<List<DeltaResult>>> pushes = new ArrayList<>();
        for (int i = 0; i < writers; i++) {
          pushes.add(threads.submit(() -> {
            start.await();
            return push("phone-c", batch);
          }));
        }
        start.countDown();
        List<List<DeltaResult>> answers = new ArrayList<>();
        for (Future<List<DeltaResult>> push : pushes) {
          answers.add(push.get());
        }
        List<DeltaResult> firsts = answers.stream().filter(answer -> !answer.get(0).getReplayed()).findFirst()
            .orElseThrow();
        assertThat(answers.stream().filter(answer -> !answer.get(0).getReplayed()).count())
            .as("round %d: exactly one push applied the batch", round).isEqualTo(1);
        for (List<DeltaResult> answer : answers) {
          assertThat(answer).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
          for (int i = 0; i < batch.size(); i++) {
            assertThat(answer.get(i).toBuilder().setReplayed(false).build()).isEqualTo(firsts.get(i));
          }
        }
        assertThat(count("select count(*) from change_log where scope = ?", scope))
            .as("round %d: written once", round).isEqualTo((long) batch.size());
      } finally {
        threads.shutdownNow();
      }
    }
  }

  @Test
  void aRetryAfterCleanUpDeletedTheLogRowGetsTheOriginalResult() {
    String scope = "cleaned";
    Delta single = in(scope, create("single", doc("v", "1")));
    DeltaResult singleResult = push("phone-k", single);
    List<Delta> batch = List.of(in(scope, create("b0", doc("v", "1"))), in(scope, create("b1", doc("v", "1"))));
    List<DeltaResult> batchResults = push("phone-k", batch);
    push("phone-other", List.of(in(scope, update("single", 1, doc("v", "2"))), in(scope, update("b0", 1,
        doc("v", "2"))), in(scope, update("b1", 1, doc("v", "2")))));
    assertThat(storedResults("phone-k")).as("stored when applied").isEqualTo(3);

    // Clean-up with a clock a year ahead and a change-log retention of a day: the whole log goes; the idempotency
    // records are kept (ten years).
    Cleanup cleanup = new Cleanup(new CleanupStore(server.sql()), new SyncStore(server.sql()),
        () -> server.database().dataSource().getConnection(),
        new Cleanup.Retention(Duration.ofDays(3650), Duration.ofDays(1), Duration.ofDays(3650), Duration.ofDays(3650),
            Duration.ofDays(3650)), 2, Clock.offset(Clock.systemUTC(), Duration.ofDays(365)),
        new SimpleMeterRegistry());
    assertThat(cleanup.run(false).changeLog()).isPositive();
    assertThat(count("select count(*) from change_log where scope = ?", scope))
        .isZero();
    assertThat(storedResults("phone-k")).as("clean-up of the log leaves the stored results").isEqualTo(3);

    assertReplays(List.of(singleResult), List.of(push("phone-k", single)));
    assertReplays(batchResults, push("phone-k", batch));
  }
}

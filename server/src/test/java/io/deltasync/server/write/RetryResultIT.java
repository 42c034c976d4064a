package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A retry gets the first result of its delta whatever happened since: the result is stored with the delta's
 * idempotency record in the transaction that claims it. Regression tests from the review of a withdrawn change that
 * left the results of plainly applied deltas unstored and answered their retries from the change log or the entity
 * (docs/performance.md, "No second write, no extra round trip"): each of these failed with it.
 */
class RetryResultIT {
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

  /**
   * An operator empties the change log (TRUNCATE, or DELETE FROM change_log: V11 handles both for versions), and
   * another client has written the entity since. The retry is answered from the stored result (answered from the
   * change log, it found neither log row nor entity row naming it: INTERNAL).
   */
  @Test
  void aRetryAfterTheChangeLogWasTruncatedGetsItsOriginalResult() {
    String scope = "truncated";
    Delta single = in(scope, create("single", doc("v", "1")));
    DeltaResult first = push("phone-t", single);
    List<Delta> batch = List.of(in(scope, create("b0", doc("v", "1"))), in(scope, create("b1", doc("v", "1"))));
    List<DeltaResult> firstBatch = push("phone-t", batch);
    assertThat(first.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(firstBatch).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    push("phone-other", List.of(in(scope, update("single", 1, doc("v", "2"))),
        in(scope, update("b0", 1, doc("v", "2"))), in(scope, update("b1", 1, doc("v", "2")))));

    server.sql().execute("TRUNCATE change_log");

    DeltaResult retried = push("phone-t", single);
    assertThat(retried.getStatus()).as("retry of a single plain create after TRUNCATE change_log: %s", retried)
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(retried.getReplayed()).isTrue();
    assertThat(retried.toBuilder().setReplayed(false).build()).isEqualTo(first);
    List<DeltaResult> retriedBatch = push("phone-t", batch);
    for (int i = 0; i < batch.size(); i++) {
      assertThat(retriedBatch.get(i).toBuilder().setReplayed(false).build()).isEqualTo(firstBatch.get(i));
    }
  }

  /** The set-based statement passes strings as text[] literals: odd ids and documents must round-trip. */
  @Test
  void setBasedWritesKeepOddStringsExactly() {
    String scope = "odd-strings";
    List<String> ids = List.of("NULL", "null", "a\"b", "a\\b", "{x}", "a,b", " spaced ", "é😀", "\\N", "()");
    List<Delta> creates = new ArrayList<>();
    for (String id : ids) {
      Struct data = Struct.newBuilder()
          .putFields("s", Value.newBuilder().setStringValue(id + "\\\"{},\u0001\u2028").build())
          .putFields("n", Value.newBuilder().setNullValue(com.google.protobuf.NullValue.NULL_VALUE).build())
          .putFields("big", Value.newBuilder().setNumberValue(9007199254740993d).build())
          .build();
      creates.add(in(scope, create(id, data)));
    }
    List<DeltaResult> results = push("phone-odd", creates);
    for (int i = 0; i < ids.size(); i++) {
      DeltaResult r = results.get(i);
      assertThat(r.getStatus()).as("%s: %s", ids.get(i), r).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(r.getEntity().getEntityId()).isEqualTo(ids.get(i));
      assertThat(r.getEntity().getData()).isEqualTo(creates.get(i).getData());
    }
    assertThat(server.sql().fetchValue("select count(*) from entity where scope = ?", scope))
        .isEqualTo((long) ids.size());
    List<DeltaResult> retried = push("phone-odd", creates);
    for (int i = 0; i < ids.size(); i++) {
      assertThat(retried.get(i).toBuilder().setReplayed(false).build()).isEqualTo(results.get(i));
    }
    // Updates through the set-based UPDATE too
    List<Delta> updates = new ArrayList<>();
    for (String id : ids) {
      updates.add(in(scope, update(id, 1, doc("s", id + "\"\\"))));
    }
    List<DeltaResult> updated = push("phone-odd", updates);
    assertThat(updated).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    List<DeltaResult> updatedAgain = push("phone-odd", updates);
    for (int i = 0; i < ids.size(); i++) {
      assertThat(updatedAgain.get(i).toBuilder().setReplayed(false).build()).isEqualTo(updated.get(i));
    }
  }

  /**
   * Conflict bookkeeping (V10) changes the entity's sync_status and conflict_data without moving its version or its
   * writer columns: the entity as it is now is not the first result (the withdrawn entity fallback answered with it).
   */
  @Test
  void theEntityFallbackAnswersWithTheFirstResultNotLaterBookkeeping() {
    String scope = "bookkept";
    Delta created = in(scope, create("m", doc("v", "1")));
    DeltaResult first = push("phone-m", created);
    assertThat(first.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    DeltaResult queued = push("phone-x", in(scope, update("m", 7, doc("v", "x")))
        .toBuilder().setConflictPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_MANUAL).build());
    assertThat(queued.getStatus()).as("%s", queued).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);

    server.sql().execute("DELETE FROM change_log WHERE scope = ?", scope);

    DeltaResult retried = push("phone-m", created);
    assertThat(retried.getReplayed()).as("%s", retried).isTrue();
    assertThat(retried.toBuilder().setReplayed(false).build()).isEqualTo(first);
  }

  private static void purgeIdempotencyRecordsOnly() {
    io.deltasync.server.ops.Cleanup cleanup = new io.deltasync.server.ops.Cleanup(
        new io.deltasync.server.store.CleanupStore(server.sql()), new io.deltasync.server.store.SyncStore(server.sql()),
        () -> server.database().dataSource().getConnection(),
        new io.deltasync.server.ops.Cleanup.Retention(java.time.Duration.ofDays(3650), java.time.Duration.ofDays(3650),
            java.time.Duration.ofDays(1), java.time.Duration.ofDays(3650), java.time.Duration.ofDays(3650)), 2,
        java.time.Clock.offset(java.time.Clock.systemUTC(), java.time.Duration.ofDays(365)),
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    cleanup.run(false);
  }

  private static void purgeWholeChangeLog() {
    io.deltasync.server.ops.Cleanup cleanup = new io.deltasync.server.ops.Cleanup(
        new io.deltasync.server.store.CleanupStore(server.sql()), new io.deltasync.server.store.SyncStore(server.sql()),
        () -> server.database().dataSource().getConnection(),
        new io.deltasync.server.ops.Cleanup.Retention(java.time.Duration.ofDays(3650), java.time.Duration.ofDays(1),
            java.time.Duration.ofDays(3650), java.time.Duration.ofDays(3650), java.time.Duration.ofDays(3650)), 2,
        java.time.Clock.offset(java.time.Clock.systemUTC(), java.time.Duration.ofDays(365)),
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    cleanup.run(false);
  }

  /**
   * The idempotency record of a delta expired (DELTASYNC_CLEANUP_APPLIED_DELTA_DAYS; the change log's rows are
   * kept longer, or their purge lags), and the client uses the id again for a new delta of the same entity: the
   * server applies it as new (docs/operations.md). Its own retry must get its own result, not the old delta's.
   */
  @Test
  void aReusedIdAfterItsRecordExpiredIsAnsweredWithItsOwnResult() {
    String scope = "reused-same-key";
    Delta old = in(scope, create("k", doc("v", "old")));
    assertThat(push("phone-r", old).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    purgeIdempotencyRecordsOnly();
    assertThat(server.sql().fetchValue("select count(*) from applied_delta where client_id = 'phone-r'"))
        .isEqualTo(0L);
    Delta reused = in(scope, update("k", 1, doc("v", "new"))).toBuilder().setDeltaId(old.getDeltaId()).build();
    DeltaResult first = push("phone-r", reused);
    assertThat(first.getStatus()).as("%s", first).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(first.getReplayed()).isFalse();
    assertThat(first.getEntity().getRowVersion()).isEqualTo(2);

    DeltaResult retried = push("phone-r", reused);
    assertThat(retried.getReplayed()).isTrue();
    assertThat(retried.toBuilder().setReplayed(false).build()).isEqualTo(first);
  }

  /**
   * As above, other entity: the change log holds rows of both applications naming (client_id, delta_id); clean-up
   * (which no longer stores results) must leave the retry its own result.
   */
  @Test
  void cleanUpStoresTheResultOfTheDeltaThatOwnsTheRecord() {
    String scope = "reused-other-key";
    Delta old = in(scope, create("old", doc("v", "old")));
    assertThat(push("phone-q", old).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    push("phone-other2", in(scope, create("new", doc("v", "1"))));
    purgeIdempotencyRecordsOnly();
    Delta reused = in(scope, update("new", 1, doc("v", "new"))).toBuilder().setDeltaId(old.getDeltaId()).build();
    DeltaResult first = push("phone-q", reused);
    assertThat(first.getStatus()).as("%s", first).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

    purgeWholeChangeLog();

    DeltaResult retried = push("phone-q", reused);
    assertThat(retried.getReplayed()).isTrue();
    assertThat(retried.toBuilder().setReplayed(false).build()).isEqualTo(first);
  }

  /**
   * No hostile client: a genuine retry arriving after its idempotency record expired is applied again (documented,
   * docs/operations.md). Here the entity was deleted and its tombstone purged meanwhile, so the late retry creates
   * it again (a new version). That second application's own retry must be answered with its result, not with the
   * first application's change-log row (same client_id, delta_id and key, lower row_version).
   */
  @Test
  void aLateRetryAppliedAgainIsThenAnsweredWithItsOwnResult() {
    String scope = "late-retry";
    Delta created = in(scope, create("k", doc("v", "1")));
    assertThat(push("phone-l", created).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(push("phone-other3", in(scope, io.deltasync.server.testing.Deltas.delete("k", 1))).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    // Clean-up a year later with the change log kept longer than tombstones and idempotency records
    new io.deltasync.server.ops.Cleanup(
        new io.deltasync.server.store.CleanupStore(server.sql()), new io.deltasync.server.store.SyncStore(server.sql()),
        () -> server.database().dataSource().getConnection(),
        new io.deltasync.server.ops.Cleanup.Retention(java.time.Duration.ofDays(1), java.time.Duration.ofDays(3650),
            java.time.Duration.ofDays(1), java.time.Duration.ofDays(3650), java.time.Duration.ofDays(3650)), 2,
        java.time.Clock.offset(java.time.Clock.systemUTC(), java.time.Duration.ofDays(365)),
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).run(false);
    assertThat(server.sql().fetchValue("select count(*) from entity where scope = ?", scope)).isEqualTo(0L);
    DeltaResult again = push("phone-l", created);
    assertThat(again.getStatus()).as("%s", again).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(again.getReplayed()).isFalse();
    assertThat(again.getEntity().getRowVersion()).isGreaterThan(2);

    DeltaResult retried = push("phone-l", created);
    assertThat(retried.getReplayed()).isTrue();
    assertThat(retried.toBuilder().setReplayed(false).build()).isEqualTo(again);
  }
}

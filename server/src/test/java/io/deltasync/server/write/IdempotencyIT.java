package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A retried delta is answered with its first result and never applied twice. */
class IdempotencyIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  private DeltaResult push(String clientId, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build())
        .getResults(0);
  }

  private long changesOf(String entityId) {
    return server.sql().fetchCount(server.sql().selectFrom("change_log").where("entity_id = '" + entityId + "'"));
  }

  @Test
  void aRetryGetsTheOriginalResultAndAppliesNothing() {
    Delta delta = create("once", doc("v", "1"));
    DeltaResult first = push("phone-1", delta);
    Delta later = update("once", 1, doc("v", "2"));
    push("phone-1", later);

    DeltaResult retry = push("phone-1", delta);

    assertThat(first.getReplayed()).isFalse();
    assertThat(retry.getReplayed()).isTrue();
    assertThat(retry.toBuilder().setReplayed(false).build()).isEqualTo(first);
    assertThat(changesOf("once")).isEqualTo(2);
    assertThat(push("phone-1", later).getReplayed()).isTrue();
    assertThat(changesOf("once")).isEqualTo(2);
  }

  @Test
  void aRetriedConflictIsAnsweredWithTheSameConflict() {
    push("phone-1", create("conflicted", doc("v", "1")));
    push("phone-2", update("conflicted", 1, doc("v", "2")));
    Delta stale = update("conflicted", 1, doc("v", "stale"));
    DeltaResult first = push("phone-1", stale);
    assertThat(first.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);

    DeltaResult retry = push("phone-1", stale);

    assertThat(retry.getReplayed()).isTrue();
    assertThat(retry.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(retry.getEntity()).isEqualTo(first.getEntity());
  }

  @Test
  void theSameDeltaIdFromAnotherClientIsAnotherDelta() {
    Delta first = create("per-client-a", doc("v", "1"));
    push("phone-1", first);
    Delta sameIdOtherEntity = create("per-client-b", doc("v", "1")).toBuilder().setDeltaId(first.getDeltaId())
        .build();

    DeltaResult result = push("phone-2", sameIdOtherEntity);

    assertThat(result.getReplayed()).isFalse();
    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
  }

  @Test
  void reusingADeltaIdForOtherContentIsRefused() {
    Delta first = create("reuse", doc("v", "1"));
    push("phone-1", first);
    Delta different = update("reuse", 1, doc("v", "2")).toBuilder().setDeltaId(first.getDeltaId()).build();

    DeltaResult result = push("phone-1", different);

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(result.getError().getCode()).isEqualTo(Code.ALREADY_EXISTS_VALUE);
    assertThat(PushIT.reason(result)).isEqualTo("DELTA_ID_REUSED");
    assertThat(changesOf("reuse")).isEqualTo(1);
  }

  @Test
  void concurrentRetriesOfOneDeltaApplyItOnce() throws Exception {
    push("phone-1", create("counter", doc("v", "0")));
    Delta delta = update("counter", 1, doc("v", "1"));
    int attempts = 6;
    CountDownLatch start = new CountDownLatch(1);
    List<DeltaResult> results = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(attempts)) {
      List<Future<DeltaResult>> futures = new ArrayList<>();
      for (int i = 0; i < attempts; i++) {
        futures.add(pool.submit(() -> {
          start.await();
          return push("phone-1", delta);
        }));
      }
      start.countDown();
      for (Future<DeltaResult> future : futures) {
        results.add(future.get());
      }
    }

    assertThat(results).allSatisfy(r -> assertThat(r.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED));
    assertThat(results).filteredOn(r -> !r.getReplayed()).hasSize(1);
    assertThat(results).extracting(r -> r.getEntity().getRowVersion()).containsOnly(2L);
    assertThat(changesOf("counter")).isEqualTo(2);
  }
}

package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One principal's concurrent Push calls are bounded (DELTASYNC_MAX_PUSHES_PER_PRINCIPAL): two pushes are held inside
 * the server (their update waits for a row lock the test holds), a third is refused at once, another principal is
 * not affected, and once the two finish the principal may push again.
 */
class PushLimitIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET, "DELTASYNC_MAX_PUSHES_PER_PRINCIPAL", "2"))));

  private static SyncServiceGrpc.SyncServiceBlockingStub as(String sub) {
    return SyncServiceGrpc.newBlockingStub(Credentials.bearer(server.channel(),
        Credentials.hs256(claims(sub, List.of("writer"), List.of(sub + "-scope")).build())))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private static PushRequest push(String clientId, Delta delta) {
    return PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build();
  }

  @Test
  void aThirdConcurrentPushOfOnePrincipalIsRefusedAndTheLimitIsReleased() throws Exception {
    // Two entities: per-entity admission (server.admission) queues a second push of one entity in the server, so
    // each held push updates its own entity and both wait for a row lock in PostgreSQL.
    long base = 0;
    for (int i = 0; i < 2; i++) {
      PushResponse created = as("alice").push(push("phone", Deltas.create("held-" + i, Deltas.doc("v", "0"))
          .toBuilder().setScope("alice-scope").build()));
      base = created.getResults(0).getEntity().getRowVersion();
    }

    List<CompletableFuture<PushResponse>> held = new ArrayList<>();
    java.util.concurrent.ExecutorService callers = java.util.concurrent.Executors.newFixedThreadPool(2);
    try (callers; Connection lock = server.database().dataSource().getConnection()) {
      lock.setAutoCommit(false);
      lock.createStatement().execute("SELECT 1 FROM entity WHERE entity_id IN ('held-0', 'held-1') FOR UPDATE");
      for (int i = 0; i < 2; i++) {
        Delta update = Deltas.update("held-" + i, base, Deltas.doc("v", "held-" + i)).toBuilder()
            .setScope("alice-scope").build();
        held.add(CompletableFuture.supplyAsync(() -> as("alice").push(push("phone", update)), callers));
      }
      awaitWaitingOnLocks(2);

      assertThatThrownBy(() -> as("alice").push(push("phone", Deltas.create("third", Deltas.doc("v", "3"))
          .toBuilder().setScope("alice-scope").build())))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(e.getStatus().getDescription()).contains("DELTASYNC_MAX_PUSHES_PER_PRINCIPAL");
          });
      // Another principal is not affected.
      assertThat(as("bob").push(push("laptop", Deltas.create("bobs", Deltas.doc("v", "b")).toBuilder()
          .setScope("bob-scope").build())).getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      lock.rollback();
      for (CompletableFuture<PushResponse> one : held) {
        assertThat(one.get(60, TimeUnit.SECONDS).getResultsCount()).isEqualTo(1);
      }
    }
    // Both held calls ended: the principal may push again.
    assertThat(as("alice").push(push("phone", Deltas.create("after", Deltas.doc("v", "a")).toBuilder()
        .setScope("alice-scope").build())).getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
  }

  /** Waits until {@code count} backends of the server wait for a lock (the held pushes are inside the server). */
  private static void awaitWaitingOnLocks(int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      int waiting = server.sql().resultQuery("SELECT count(*)::int FROM pg_stat_activity WHERE datname = "
          + "current_database() AND wait_event_type = 'Lock'").fetchSingle().get(0, Integer.class);
      if (waiting >= count) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the held pushes never reached the database (waiting: " + waiting + ")");
      }
      Thread.sleep(20);
    }
  }
}

package io.deltasync.server.rpc;

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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Unary calls run on reused platform threads (DELTASYNC_UNARY_THREADS), and a busy pool never holds a call behind
 * another: with one thread, a push waiting on a row lock another service holds does not stop a second push.
 */
class UnaryCallExecutorIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withScale(config.scale().withUnaryThreads(1))
      .withAdmission(config.admission().withEntityStripes(0)));

  private static DeltaResult push(String clientId, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build())
        .getResults(0);
  }

  private static Delta in(String scope, Delta delta) {
    return delta.toBuilder().setScope(scope).build();
  }

  @Test
  void unaryCallsRunOnTheReusedPlatformThreads() {
    push("phone-t", in("threads", create("a", doc("v", "1"))));
    assertThat(Thread.getAllStackTraces().keySet()).extracting(Thread::getName)
        .as("the push ran on the unary pool").contains("deltasync-unary-0");
  }

  @Test
  void aPushBlockedInTheDatabaseDoesNotHoldTheNextBehindIt() throws Exception {
    String scope = "busy-pool";
    push("phone-b", in(scope, create("locked", doc("v", "1"))));
    try (Connection holder = server.database().dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (PreparedStatement lock = holder.prepareStatement(
          "select 1 from entity where scope = ? and entity_id = 'locked' for update")) {
        lock.setString(1, scope);
        lock.executeQuery().close();
      }
      // The first push takes the pool's only thread and waits on the lock another service holds.
      CompletableFuture<DeltaResult> blocked = CompletableFuture.supplyAsync(
          () -> push("phone-b", in(scope, update("locked", 1, doc("v", "2")))));
      LockWaiters.await(server.database().dataSource(), 1, null);
      // A queueing pool would answer this one only after the lock is released: it would run past its deadline.
      DeltaResult other = server.sync().withDeadlineAfter(30, TimeUnit.SECONDS).push(PushRequest.newBuilder()
          .setClientId("phone-b").addDeltas(in(scope, create("free", doc("v", "1")))).build()).getResults(0);
      assertThat(other.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(blocked).as("still waiting on the lock").isNotDone();
      holder.rollback();
      assertThat(blocked.get(60, TimeUnit.SECONDS).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    }
  }
}

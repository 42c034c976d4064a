package io.deltasync.server.conflict;

import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.SyncStatus;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Resolving one conflict never locks another conflict of the same entity: two resolutions of different conflicts
 * of one entity, each locking its own conflict and then the other's, would deadlock. The entity's compare-and-set
 * already orders them (the second is ABORTED and looks again).
 */
class ResolutionLocksIT {
  private static final String SCOPE = "locks";

  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL);

  private static DeltaResult push(String client, Operation operation, long base, String title) {
    Delta delta = Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
        .setEntityId("doc").setScope(SCOPE).setOperation(operation).setBaseRowVersion(base)
        .setData(doc("title", title)).build();
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  /** Whether a connection to this test's database waits for a lock. */
  private static boolean someoneWaitsForALock(Connection observer) throws Exception {
    try (PreparedStatement query = observer.prepareStatement("select exists (select 1 from pg_stat_activity "
        + "where datname = current_database() and wait_event_type = 'Lock')");
        ResultSet row = query.executeQuery()) {
      row.next();
      return row.getBoolean(1);
    }
  }

  @Test
  void resolvingAConflictDoesNotWaitForAnotherConflictOfTheSameEntity() throws Exception {
    push("a", Operation.OPERATION_CREATE, 0, "base");
    push("b", Operation.OPERATION_UPDATE, 1, "by b");
    DeltaResult first = push("a", Operation.OPERATION_UPDATE, 1, "by a");
    DeltaResult second = push("c", Operation.OPERATION_UPDATE, 1, "by c");
    assertThat(second.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);

    try (Connection otherResolution = server.database().dataSource().getConnection();
        Connection observer = server.database().dataSource().getConnection()) {
      // Another resolution is under way on the second conflict: it holds that conflict's row.
      otherResolution.setAutoCommit(false);
      try (PreparedStatement lock = otherResolution.prepareStatement(
          "select 1 from conflict where conflict_id = ?::uuid for update")) {
        lock.setString(1, second.getResolution().getConflictId());
        lock.executeQuery().close();
      }

      CompletableFuture<Entity> resolution = CompletableFuture.supplyAsync(() -> server.sync().resolveConflict(
          ResolveConflictRequest.newBuilder().setConflictId(first.getResolution().getConflictId())
              .setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER)
              .setBaseRowVersion(second.getEntity().getRowVersion()).build()).getEntity());
      boolean waited = false;
      while (!resolution.isDone() && !waited) {
        waited = someoneWaitsForALock(observer);
        Thread.sleep(10);
      }
      otherResolution.rollback();

      assertThat(waited).as("the resolution of the first conflict waited for the second conflict's lock").isFalse();
      Entity resolved = resolution.get(60, TimeUnit.SECONDS);
      assertThat(resolved.getData()).isEqualTo(doc("title", "by b"));
      assertThat(resolved.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_CONFLICT);  // the second is open
    }
  }
}

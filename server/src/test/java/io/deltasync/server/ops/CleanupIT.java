package io.deltasync.server.ops;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.OpsConfig;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.CleanupStore;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.CleanupTombstonesRequest;
import io.deltasync.v1.CleanupTombstonesResponse;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Clean-up end to end: a deleted entity is purged past its retention (a clock moved forward), an old client resumes
 * and is told to resync, a fresh client never sees the entity, and its id created again continues above every
 * version a client held.
 */
class CleanupIT {
  private static final String SCOPE = "purge";

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withOps(config.ops().withCleanup(Duration.ZERO, 1_000)));

  private static Delta inScope(Delta delta) {
    return delta.toBuilder().setScope(SCOPE).build();
  }

  private static DeltaResult push(Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(inScope(delta)).build())
        .getResults(0);
  }

  /** Clean-up over the server's database, as another node would run it, with a clock {@code ahead} of now. */
  private static Cleanup cleanup(Duration ahead, int batchSize) {
    DSLContext sql = server.sql();
    return new Cleanup(new CleanupStore(sql), new SyncStore(sql), () -> server.database().dataSource().getConnection(),
        Cleanup.Retention.of(Duration.ofDays(30), OpsConfig.defaults()), batchSize,
        Clock.offset(Clock.systemUTC(), ahead), new SimpleMeterRegistry());
  }

  private static long count(String sql) {
    return server.sql().fetchOne(sql).get(0, Long.class);
  }

  @Test
  void purgedPastRetentionOldClientsResyncFreshOnesNeverSeeItAndAReusedIdContinuesAbove() {
    Subscription scope = Subscription.newBuilder().addScopes(SCOPE).build();
    String oldCursor;
    long heldVersion;
    try (StreamClient old = new StreamClient(server.channel())) {
      old.hello("old-phone", "", scope);
      old.awaitLive();
      push(create("kept", doc("v", "1")));
      long created = push(create("gone", doc("v", "1"))).getEntity().getRowVersion();
      old.awaitChanges(2);
      oldCursor = old.cursor();
      DeltaResult deleted = push(delete("gone", created));
      assertThat(deleted.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      heldVersion = old.awaitChanges(3).getLast().getEntity().getRowVersion();
    }

    // Nothing is old yet.
    Cleanup.Report now = cleanup(Duration.ZERO, 2).run(false);
    assertThat(now.ran()).isTrue();
    assertThat(now.tombstones() + now.changeLog()).isZero();

    // 31 days later: a dry run counts and changes nothing.
    Cleanup.Report dry = cleanup(Duration.ofDays(31), 2).run(true);
    assertThat(dry.tombstones()).isEqualTo(1);
    assertThat(dry.changeLog()).isEqualTo(3);
    assertThat(dry.appliedDeltas()).isEqualTo(3);
    assertThat(count("select count(*) from entity where is_deleted")).isEqualTo(1);
    assertThat(count("select count(*) from change_log")).isEqualTo(3);

    // Batches of 2: several short transactions.
    Cleanup.Report purged = cleanup(Duration.ofDays(31), 2).run(false);
    assertThat(purged.tombstones()).isEqualTo(1);
    assertThat(purged.changeLog()).isEqualTo(3);
    assertThat(purged.appliedDeltas()).isEqualTo(3);
    assertThat(purged.clientStatuses()).isZero();  // 90 days
    assertThat(count("select count(*) from entity where entity_id = 'gone'")).isZero();
    assertThat(count("select count(*) from change_log")).isZero();

    // The old client resumes: resync, then the current state without the purged entity.
    try (StreamClient old = new StreamClient(server.channel())) {
      old.hello("old-phone", oldCursor, scope);
      assertThat(old.await(m -> m.hasResyncRequired() || m.hasChanges(), "resync").hasResyncRequired()).isTrue();
      SyncResponse state = old.await(SyncResponse::hasChanges, "initial state");
      assertThat(state.getChanges().getPhase()).isEqualTo(SyncPhase.SYNC_PHASE_INITIAL_STATE);
      assertThat(state.getChanges().getChangesList()).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("kept");
      old.awaitLive();
    }
    assertThatThrownBy(() -> server.sync().pull(PullRequest.newBuilder().setCursor(oldCursor).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
            assertThat(StatusProto.fromThrowable(e).getCode()).isEqualTo(Code.FAILED_PRECONDITION_VALUE));

    // A fresh client never sees it.
    try (StreamClient fresh = new StreamClient(server.channel())) {
      fresh.hello("fresh-phone", "", scope);
      fresh.awaitLive();
      assertThat(fresh.changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("kept");

      // Created again: above every version a client held, so a client holding the old one applies it.
      DeltaResult again = push(create("gone", doc("v", "2")));
      assertThat(again.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(again.getEntity().getRowVersion()).isGreaterThan(heldVersion);
      assertThat(fresh.awaitChanges(2).getLast().getEntity().getEntityId()).isEqualTo("gone");
    }
  }

}

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
 * version a client held. Then: the lock lets one runner at a time, and bad input is refused.
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

  @Test
  void oneRunnerAtATimeAnotherNodeSkipsAndTheRpcSaysSo() throws Exception {
    push(create("locked-1", doc("v", "1")));
    CompletableFuture<Cleanup.Report> first;
    try (Connection rowLock = server.database().dataSource().getConnection()) {
      // Hold the history floor's row: the first runner stops inside its change-log purge, holding the lock.
      rowLock.setAutoCommit(false);
      rowLock.createStatement().execute("select * from sync_epoch for update");
      first = CompletableFuture.supplyAsync(() -> cleanup(Duration.ofDays(31), 1_000).run(false));
      awaitLockHeld();

      Cleanup.Report second = cleanup(Duration.ofDays(31), 1_000).run(false);
      assertThat(second.ran()).isFalse();
      assertThatThrownBy(() -> server.admin().cleanupTombstones(CleanupTombstonesRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            com.google.rpc.Status status = StatusProto.fromThrowable(e);
            assertThat(status.getCode()).isEqualTo(Code.ABORTED_VALUE);
            assertThat(reason(status)).isEqualTo("CLEANUP_RUNNING");
          });
      assertThat(first).isNotDone();
      rowLock.rollback();
    }
    assertThat(first.get(60, TimeUnit.SECONDS).ran()).isTrue();
    CleanupTombstonesResponse after = server.admin().cleanupTombstones(CleanupTombstonesRequest.newBuilder()
        .setDryRun(true).build());
    assertThat(after.getPurgedCount()).isZero();
    assertThat(after.hasCutoff()).isTrue();
  }

  private static void awaitLockHeld() throws InterruptedException {
    while (count("select count(*) from pg_locks where locktype = 'advisory' and granted") == 0) {
      Thread.sleep(20);
    }
  }

  @Test
  void aNegativeOrHugeRetentionIsRefusedWithTheField() {
    for (int days : new int[] {-1, 36_501}) {
      assertThatThrownBy(() -> server.admin().cleanupTombstones(CleanupTombstonesRequest.newBuilder()
          .setOlderThanDays(days).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            com.google.rpc.Status status = StatusProto.fromThrowable(e);
            assertThat(status.getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
            List<String> fields = new ArrayList<>();
            status.getDetailsList().stream().filter(d -> d.is(BadRequest.class)).forEach(d -> {
              try {
                d.unpack(BadRequest.class).getFieldViolationsList().forEach(v -> fields.add(v.getField()));
              } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                throw new AssertionError(x);
              }
            });
            assertThat(fields).containsExactly("older_than_days");
          });
    }
  }

  private static String reason(com.google.rpc.Status status) {
    return status.getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).map(d -> {
      try {
        return d.unpack(ErrorInfo.class).getReason();
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    }).findFirst().orElse("");
  }
}

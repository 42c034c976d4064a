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
 * Clean-up's rules: one runner at a time (another node skips, the RPC answers ABORTED), a catch-up that raced a floor
 * raise resyncs, bad input is refused with the field.
 */
class CleanupRulesIT {
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
  void aCatchUpPageReadWhileTheFloorRosePastItsStartIsAnsweredWithResync() {
    SyncStore store = new SyncStore(server.sql());
    ChangeFeed feed = new ChangeFeed(store, store.epoch());
    Position before = store.visiblePosition();
    push(create("floor-1", doc("v", "1")));
    push(create("floor-2", doc("v", "1")));
    assertThat(feed.readPage(before, 10, ChangeFilter.all()).changes()).hasSize(2);
    // What clean-up commits before deleting anything: the floor, past the reader's start.
    server.sql().execute("update sync_epoch set (history_floor_tx_id, history_floor_change_id) = "
        + "(select tx_id, change_id from change_log order by tx_id desc, change_id desc limit 1)");

    assertThatThrownBy(() -> feed.readPage(before, 10, ChangeFilter.all()))
        .isInstanceOfSatisfying(DeltaSyncException.class, e ->
            assertThat(e.status().getCode()).isEqualTo(Code.FAILED_PRECONDITION_VALUE));
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

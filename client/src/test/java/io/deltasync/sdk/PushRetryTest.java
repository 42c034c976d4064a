package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncPushResults;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.SyncWelcome;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A delta the server answers "not now" (UNAVAILABLE, not recorded) is sent again with the same id after a backoff,
 * and other entities' deltas do not wait for it. An in-process stand-in plays the server: the answer cannot be
 * provoked on demand from a real one.
 */
class PushRetryTest {
  @TempDir
  Path dir;

  /** Answers every push, the first attempt of each delta of the busy entities (default "x") with UNAVAILABLE. */
  private static final class BusyOnce extends SyncServiceGrpc.SyncServiceImplBase {
    final List<SyncPush> pushes = new CopyOnWriteArrayList<>();
    final Set<String> refused = new HashSet<>();
    final Set<String> busy;

    BusyOnce(String... busy) {
      this.busy = Set.of(busy.length == 0 ? new String[] {"x"} : busy);
    }

    @Override
    public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responses) {
      return new StreamObserver<>() {
        @Override
        public void onNext(SyncRequest request) {
          if (request.hasHello()) {
            responses.onNext(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder()
                .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setSeconds(3600))).build());
            responses.onNext(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder()
                .setPhase(SyncPhase.SYNC_PHASE_LIVE)).build());
          } else if (request.hasPush()) {
            pushes.add(request.getPush());
            SyncPushResults.Builder results = SyncPushResults.newBuilder().setBatchId(request.getPush().getBatchId());
            for (Delta delta : request.getPush().getDeltasList()) {
              if (busy.contains(delta.getEntityId()) && refused.add(delta.getDeltaId())) {
                results.addResults(DeltaResult.newBuilder().setDeltaId(delta.getDeltaId())
                    .setStatus(DeltaStatus.DELTA_STATUS_REJECTED).setError(com.google.rpc.Status.newBuilder()
                        .setCode(Status.Code.UNAVAILABLE.value()).setMessage("database unavailable")));
              } else {
                results.addResults(DeltaResult.newBuilder().setDeltaId(delta.getDeltaId())
                    .setStatus(DeltaStatus.DELTA_STATUS_APPLIED).setEntity(Entity.newBuilder()
                        .setScope(delta.getScope()).setEntityType(delta.getEntityType())
                        .setEntityId(delta.getEntityId()).setData(delta.getData()).setRowVersion(1)));
              }
            }
            responses.onNext(SyncResponse.newBuilder().setPushResults(results).build());
          }
        }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() {
          responses.onCompleted();
        }
      };
    }
  }

  @Test
  void aNotNowAnswerIsRetriedWithTheSameIdWhileOtherEntitiesGoOn() throws Exception {
    BusyOnce service = new BusyOnce();
    String name = "busy-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    RecordingScheduler scheduler = new RecordingScheduler();
    // Time moves only when the test says so: x is not due until its retry task runs.
    ManualClock clock = new ManualClock();
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("p.db"));
        SyncClient client = SyncClient.builder().channel(channel).store(store).scheduler(scheduler).clock(clock)
            .build()) {
      client.create("inspection", "s", "x", doc("v", "x"));
      client.create("inspection", "s", "y", doc("v", "y"));
      client.start();
      await("x waits, y is done", () -> service.pushes.size() == 1 && client.pendingCount() == 1);
      String xId = service.pushes.get(0).getDeltas(0).getDeltaId();
      assertThat(client.get(new EntityKey("s", "inspection", "y")).orElseThrow().pending()).isFalse();
      assertThat(client.get(new EntityKey("s", "inspection", "x")).orElseThrow().pending()).isTrue();

      // A write of another entity goes out at once, without x (still backing off).
      client.create("inspection", "s", "z", doc("v", "z"));
      await("z pushed", () -> service.pushes.size() == 2 && client.pendingCount() == 1);
      assertThat(service.pushes.get(1).getDeltasList()).extracting(Delta::getEntityId).containsExactly("z");

      RecordingScheduler.Task retry = scheduler.next(t -> t.delay().compareTo(Duration.ofHours(1)) < 0);
      assertThat(retry.delay()).isBetween(Duration.ZERO, Duration.ofSeconds(1));
      clock.advance(retry.delay());
      retry.run().run();
      await("x applied", () -> client.pendingCount() == 0);
      assertThat(service.pushes.get(service.pushes.size() - 1).getDeltasList()).singleElement()
          .satisfies(d -> assertThat(d.getDeltaId()).isEqualTo(xId));
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }

  /**
   * Two deltas answered "not now" in one push draw their own jittered delays; the one due later must still be sent
   * when its time comes, not wait for the next local write or reconnect (the reliability suite's 50-client run left
   * clients LIVE with deltas pending for minutes). The jitter is fixed: x draws the largest delay, w 1 ns.
   */
  @Test
  void aRetriedDeltaDueAfterAnotherOnesWakeUpIsStillSent() throws Exception {
    BusyOnce service = new BusyOnce("x", "w");
    String name = "busy-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    RecordingScheduler scheduler = new RecordingScheduler();
    ManualClock clock = new ManualClock();
    java.util.concurrent.atomic.AtomicInteger draws = new java.util.concurrent.atomic.AtomicInteger();
    java.util.random.RandomGenerator firstLongestThenZero = new java.util.random.RandomGenerator() {
      @Override
      public long nextLong() {
        throw new UnsupportedOperationException();
      }

      @Override
      public long nextLong(long bound) {
        return draws.getAndIncrement() == 0 ? bound - 1 : 1;
      }
    };
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("p.db"));
        SyncClient client = SyncClient.builder().channel(channel).store(store).scheduler(scheduler).clock(clock)
            .random(firstLongestThenZero).build()) {
      client.create("inspection", "s", "x", doc("v", "x"));
      client.create("inspection", "s", "w", doc("v", "w"));
      client.start();
      await("x and w refused", () -> service.pushes.size() == 1 && service.refused.size() == 2);
      String xId = service.pushes.get(0).getDeltas(0).getDeltaId();
      assertThat(service.pushes.get(0).getDeltas(0).getEntityId()).isEqualTo("x");

      // w is due almost at once: its wake-up sends w alone (x backs off about a second).
      RecordingScheduler.Task first = scheduler.next(t -> t.delay().compareTo(Duration.ofHours(1)) < 0);
      assertThat(first.delay()).isEqualTo(Duration.ofNanos(1));
      clock.advance(first.delay());
      first.run().run();
      await("w applied", () -> service.pushes.size() == 2 && client.pendingCount() == 1);
      assertThat(service.pushes.get(1).getDeltasList()).extracting(Delta::getEntityId).containsExactly("w");

      // Nothing else happens on the client: a wake-up for x must be pending, at x's time.
      RecordingScheduler.Task forX = scheduler.next(t -> t.delay().compareTo(Duration.ofHours(1)) < 0);
      assertThat(forX.delay()).isGreaterThan(Duration.ofMillis(500)).isLessThanOrEqualTo(Duration.ofSeconds(1));
      clock.advance(forX.delay());
      forX.run().run();
      await("x applied", () -> client.pendingCount() == 0);
      assertThat(service.pushes.get(service.pushes.size() - 1).getDeltasList()).singleElement()
          .satisfies(d -> assertThat(d.getDeltaId()).isEqualTo(xId));
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}

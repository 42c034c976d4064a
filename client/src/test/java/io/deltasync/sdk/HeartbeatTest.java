package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.SyncWelcome;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client sends a heartbeat every interval the welcome names, and ends (then reopens) a stream it has heard
 * nothing on for two intervals. The server here goes silent after the welcome; time moves only in the test.
 */
class HeartbeatTest {
  private static final Duration INTERVAL = Duration.ofSeconds(10);

  @TempDir
  Path dir;

  /** Welcomes, marks the stream live, then says nothing more. */
  private static final class SilentServer extends SyncServiceGrpc.SyncServiceImplBase {
    final List<SyncRequest> received = new CopyOnWriteArrayList<>();

    @Override
    public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responses) {
      return new StreamObserver<>() {
        @Override
        public void onNext(SyncRequest request) {
          received.add(request);
          if (request.hasHello()) {
            responses.onNext(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder()
                .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setSeconds(INTERVAL.getSeconds())))
                .build());
            responses.onNext(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder()
                .setPhase(SyncPhase.SYNC_PHASE_LIVE)).build());
          }
        }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() { }
      };
    }
  }

  @Test
  void heartbeatsGoOutAndASilentStreamIsReopened() throws Exception {
    SilentServer service = new SilentServer();
    String name = "silent-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    RecordingScheduler scheduler = new RecordingScheduler();
    ManualClock clock = new ManualClock();
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("h.db"));
        SyncClient client = SyncClient.builder().channel(channel).store(store).scheduler(scheduler).clock(clock)
            .build()) {
      client.start();
      await("live", () -> client.state().phase() == SyncState.Phase.LIVE);

      RecordingScheduler.Task tick = scheduler.next(t -> true);
      assertThat(tick.delay()).isEqualTo(INTERVAL);
      clock.advance(INTERVAL);
      tick.run().run();
      await("a heartbeat", () -> service.received.stream().anyMatch(SyncRequest::hasHeartbeat));

      tick = scheduler.next(t -> true);
      assertThat(tick.delay()).isEqualTo(INTERVAL);
      clock.advance(INTERVAL.multipliedBy(2)); // three intervals since the server last spoke
      tick.run().run();
      await("offline", () -> client.state().phase() == SyncState.Phase.OFFLINE);
      assertThat(client.state().lastError()).contains("two heartbeat intervals");

      RecordingScheduler.Task reconnect = scheduler.next(t -> true);
      assertThat(reconnect.delay()).isBetween(Duration.ZERO, Duration.ofSeconds(1));
      reconnect.run().run();
      await("a second hello", () -> service.received.stream().filter(SyncRequest::hasHello).count() == 2);
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}

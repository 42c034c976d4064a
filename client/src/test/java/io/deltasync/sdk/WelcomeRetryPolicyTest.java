package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.client.RetryPolicy;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
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
import java.util.UUID;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reconnect backoff follows the {@code retry_policy} the server's welcome advertises (docs/client.md, "Connect"
 * 3), unless the app pinned its own; an advertised policy that makes no sense is ignored. The jitter always draws
 * its largest value here, so each delay is exactly its cap and tells which policy made it.
 */
class WelcomeRetryPolicyTest {
  private static final RetryPolicy APP = new RetryPolicy(4, Duration.ofSeconds(1), Duration.ofSeconds(4), 2.0);
  private static final RandomGenerator LARGEST = new RandomGenerator() {
    @Override
    public long nextLong() {
      throw new UnsupportedOperationException();
    }

    @Override
    public long nextLong(long bound) {
      return bound - 1;
    }
  };

  @TempDir
  Path dir;

  /** Welcomes with {@code advertised}, then ends the stream as a restarting server would. */
  private static final class Advertising extends SyncServiceGrpc.SyncServiceImplBase {
    private final io.deltasync.v1.RetryPolicy advertised;

    Advertising(io.deltasync.v1.RetryPolicy advertised) {
      this.advertised = advertised;
    }

    @Override
    public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responses) {
      return new StreamObserver<>() {
        @Override
        public void onNext(SyncRequest request) {
          if (request.hasHello()) {
            responses.onNext(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder().setRetryPolicy(advertised)
                .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setSeconds(3600))).build());
            responses.onError(Status.UNAVAILABLE.withDescription("restarting").asRuntimeException());
          }
        }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() { }
      };
    }
  }

  private static io.deltasync.v1.RetryPolicy advertised(int maxRetries, long baseSeconds, long maxSeconds,
      double multiplier) {
    return io.deltasync.v1.RetryPolicy.newBuilder().setMaxRetries(maxRetries)
        .setBaseDelay(com.google.protobuf.Duration.newBuilder().setSeconds(baseSeconds))
        .setMaxDelay(com.google.protobuf.Duration.newBuilder().setSeconds(maxSeconds))
        .setBackoffMultiplier(multiplier).build();
  }

  /** The delays of the first {@code n} reconnects, each reached through the server's welcome. */
  private Duration[] reconnectDelays(io.deltasync.v1.RetryPolicy advertised, boolean useServerPolicy, int n)
      throws Exception {
    String name = "advertising-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(new Advertising(advertised))
        .build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    RecordingScheduler scheduler = new RecordingScheduler();
    Duration[] delays = new Duration[n];
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve(UUID.randomUUID() + ".db"));
        SyncClient client = SyncClient.builder().channel(channel).store(store).scheduler(scheduler)
            .random(LARGEST).retryPolicy(APP, useServerPolicy).build()) {
      client.start();
      for (int i = 0; i < n; i++) {
        RecordingScheduler.Task reconnect = scheduler.next(t -> t.delay().compareTo(Duration.ofHours(1)) < 0);
        delays[i] = reconnect.delay();
        reconnect.run().run();
      }
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
    return delays;
  }

  /** The cap itself: full jitter draws from [0, cap], both ends included. */
  private static Duration cap(long seconds) {
    return Duration.ofSeconds(seconds);
  }

  @Test
  void reconnectsFollowTheServersAdvertisedPolicy() throws Exception {
    assertThat(reconnectDelays(advertised(10, 3, 20, 3.0), true, 4))
        .containsExactly(cap(3), cap(9), cap(20), cap(20));
  }

  @Test
  void anAppThatPinnedItsPolicyKeepsIt() throws Exception {
    assertThat(reconnectDelays(advertised(10, 3, 20, 3.0), false, 4))
        .containsExactly(cap(1), cap(2), cap(4), cap(4));
  }

  @Test
  void anAdvertisedPolicyThatMakesNoSenseIsIgnored() throws Exception {
    assertThat(reconnectDelays(advertised(10, 30, 3, 2.0), true, 3))
        .containsExactly(cap(1), cap(2), cap(4));
  }
}

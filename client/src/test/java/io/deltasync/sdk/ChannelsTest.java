package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.client.RetryPolicy;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.ResolveConflictResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The service config Channels gives an app's channel makes gRPC itself retry a unary call that met UNAVAILABLE. */
class ChannelsTest {
  /** A stand-in for the server (no database is involved: this is about the channel) that is unavailable once. */
  private static final class UnavailableOnce extends SyncServiceGrpc.SyncServiceImplBase {
    final AtomicInteger calls = new AtomicInteger();

    @Override
    public void resolveConflict(ResolveConflictRequest request,
        StreamObserver<ResolveConflictResponse> responses) {
      if (calls.incrementAndGet() == 1) {
        responses.onError(Status.UNAVAILABLE.withDescription("restarting").asRuntimeException());
        return;
      }
      responses.onNext(ResolveConflictResponse.newBuilder().setEntity(Entity.newBuilder().setEntityId("e")).build());
      responses.onCompleted();
    }
  }

  private static int callsWith(java.util.function.UnaryOperator<InProcessChannelBuilder> configure)
      throws Exception {
    String name = InProcessServerBuilder.generateName();
    UnavailableOnce service = new UnavailableOnce();
    Server server = InProcessServerBuilder.forName(name).addService(service).build().start();
    ManagedChannel channel = configure.apply(InProcessChannelBuilder.forName(name)).build();
    try {
      SyncServiceGrpc.newBlockingStub(channel).resolveConflict(ResolveConflictRequest.newBuilder()
          .setConflictId("c").build());
      return service.calls.get();
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }

  @Test
  void aUnaryCallIsRetriedByGrpcWithTheServiceConfig() throws Exception {
    RetryPolicy quick = new RetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(50), 2.0);
    assertThat(callsWith(channel -> channel.defaultServiceConfig(Channels.retryServiceConfig(quick)).enableRetry()))
        .as("the first attempt met UNAVAILABLE, gRPC's retry made the second").isEqualTo(2);
  }

  @Test
  void withoutItTheFirstFailureReachesTheApp() {
    assertThatThrownBy(() -> callsWith(channel -> channel.enableRetry()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
  }

  @Test
  void theConfigFollowsThePolicyWithinGrpcsLimits() {
    var config = Channels.retryServiceConfig(new RetryPolicy(9, Duration.ofMillis(1500), Duration.ofSeconds(32), 2.0));
    @SuppressWarnings("unchecked")
    var method = (java.util.Map<String, Object>) ((java.util.List<?>) config.get("methodConfig")).get(0);
    @SuppressWarnings("unchecked")
    var retry = (java.util.Map<String, Object>) method.get("retryPolicy");
    assertThat(retry).containsEntry("maxAttempts", 5.0)
        .containsEntry("initialBackoff", "1.5s").containsEntry("maxBackoff", "32s");
    assertThat(Channels.retryServiceConfig(new RetryPolicy(0, Duration.ofSeconds(1), Duration.ofSeconds(1), 2.0)))
        .isEmpty();
  }
}

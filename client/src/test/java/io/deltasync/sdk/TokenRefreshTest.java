package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Timestamp;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.SyncTokenAccepted;
import io.deltasync.v1.SyncTokenExpiring;
import io.deltasync.v1.SyncWelcome;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's side of token refresh, against an in-process stand-in for the server's Sync stream (the server side
 * is built separately): the stream opens with {@code authorization: Bearer}, a SyncTokenExpiring is answered with a
 * SyncTokenRefresh carrying a fresh token, and a stream ended UNAUTHENTICATED reconnects with a fresh token.
 */
class TokenRefreshTest {
  @TempDir
  Path dir;

  /** Plays the server: welcome and live, then warns that the token expires; accepts a refresh. */
  private static final class TokenServer extends SyncServiceGrpc.SyncServiceImplBase {
    final List<String> authorizations = new CopyOnWriteArrayList<>();
    final List<SyncRequest> received = new CopyOnWriteArrayList<>();
    final List<StreamObserver<SyncResponse>> streams = new CopyOnWriteArrayList<>();

    @Override
    public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responses) {
      streams.add(responses);
      return new StreamObserver<>() {
        @Override
        public void onNext(SyncRequest request) {
          received.add(request);
          if (request.hasHello()) {
            responses.onNext(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder()
                .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setSeconds(3600))).build());
            responses.onNext(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder()
                .setPhase(SyncPhase.SYNC_PHASE_LIVE)).build());
            responses.onNext(SyncResponse.newBuilder().setTokenExpiring(SyncTokenExpiring.newBuilder()
                .setExpiresAt(Timestamp.newBuilder().setSeconds(2_000_000_000L))).build());
          } else if (request.hasTokenRefresh()) {
            responses.onNext(SyncResponse.newBuilder().setTokenAccepted(SyncTokenAccepted.getDefaultInstance())
                .build());
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
  void theStreamCarriesTheTokenAndRefreshesItWhenTheServerWarns() throws Exception {
    TokenServer service = new TokenServer();
    Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    String name = "tokens-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(service, new io.grpc.ServerInterceptor() {
          @Override
          public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata headers,
              io.grpc.ServerCallHandler<Q, R> next) {
            service.authorizations.add(headers.get(authorization));
            return Contexts.interceptCall(io.grpc.Context.current(), call, headers, next);
          }
        })).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    AtomicInteger issued = new AtomicInteger();
    RecordingScheduler scheduler = new RecordingScheduler();
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("t.db"));
        SyncClient client = SyncClient.builder().channel(channel).store(store).scheduler(scheduler)
            .tokenProvider(() -> "t-" + issued.incrementAndGet()).build()) {
      client.start();
      await("refreshed", () -> service.received.stream().anyMatch(SyncRequest::hasTokenRefresh));
      assertThat(service.authorizations).containsExactly("Bearer t-1");
      assertThat(service.received.stream().filter(SyncRequest::hasTokenRefresh).findFirst().orElseThrow()
          .getTokenRefresh().getToken()).isEqualTo("t-2");
      assertThat(client.state().phase()).isEqualTo(SyncState.Phase.LIVE);

      // The credential expired anyway: the server ends the stream; the reconnect asks the provider again.
      service.streams.get(0).onError(Status.UNAUTHENTICATED.withDescription("token expired").asRuntimeException());
      RecordingScheduler.Task reconnect = scheduler.next(t -> t.delay().compareTo(Duration.ofHours(1)) < 0);
      reconnect.run().run();
      await("second stream", () -> service.authorizations.size() == 2);
      assertThat(service.authorizations.get(1)).isEqualTo("Bearer t-3");
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}

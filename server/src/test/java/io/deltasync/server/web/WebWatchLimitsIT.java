package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.grpc.GrpcSerializationFormats;
import io.deltasync.server.WebConfig;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.WatchChangesRequest;
import io.deltasync.v1.WatchChangesResponse;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review of the HTTP port: watches count against DELTASYNC_MAX_STREAMS_PER_PRINCIPAL and release their slot. */
class WebWatchLimitsIT {
  static final Path KEYS;

  static {
    try {
      KEYS = Credentials.publicKeyFile(Files.createTempDirectory("web-limits"));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> {
    Map<String, String> env = new HashMap<>(Credentials.tokenServer(KEYS));
    env.put("DELTASYNC_MAX_STREAMS_PER_PRINCIPAL", "2");
    return config.withAuth(AuthSettings.from(env)).withWeb(WebConfig.defaults().withPort(0));
  });

  final class Watch implements ClientResponseObserver<WatchChangesRequest, WatchChangesResponse> {
    final CompletableFuture<Status> end = new CompletableFuture<>();
    final CompletableFuture<Boolean> welcomed = new CompletableFuture<>();
    volatile ClientCallStreamObserver<WatchChangesRequest> call;

    Watch(String token, String clientId, String scope) {
      GrpcClients.builder("http://127.0.0.1:" + server.server().httpPort().orElseThrow())
          .serializationFormat(GrpcSerializationFormats.PROTO_WEB).responseTimeoutMillis(0)
          .addHeader("authorization", "Bearer " + token).build(SyncServiceGrpc.SyncServiceStub.class)
          .watchChanges(WatchChangesRequest.newBuilder().setClientId(clientId)
              .addSubscriptions(Subscription.newBuilder().addScopes(scope)).build(), this);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchChangesRequest> requestStream) {
      call = requestStream;
    }

    @Override
    public void onNext(WatchChangesResponse value) {
      if (value.getEvent().hasWelcome()) {
        welcomed.complete(true);
      }
    }

    @Override
    public void onError(Throwable t) {
      end.complete(Status.fromThrowable(t));
      welcomed.complete(false);
    }

    @Override
    public void onCompleted() {
      end.complete(Status.OK);
      welcomed.complete(false);
    }
  }

  @Test
  void watchesCountAgainstThePrincipalLimitAndRefusedOrCancelledOnesReleaseTheirSlot() throws Exception {
    String token = Credentials.hs256(Credentials.claims("limited", List.of("reader"), List.of("l")).build());
    // Refused watches (a scope the token may not read) must not keep a slot.
    for (int i = 0; i < 3; i++) {
      Watch refused = new Watch(token, "refused-" + i, "not-mine");
      assertThat(refused.end.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    }
    List<Watch> open = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Watch w = new Watch(token, "ok-" + i, "l");
      assertThat(w.welcomed.get(30, TimeUnit.SECONDS)).as("watch " + i + " " + w.end.getNow(null)).isTrue();
      open.add(w);
    }
    Watch third = new Watch(token, "third", "l");
    assertThat(third.end.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    open.forEach(w -> w.call.cancel("closed tab", null));
    Thread.sleep(1000);
    for (int i = 0; i < 2; i++) {
      Watch w = new Watch(token, "again-" + i, "l");
      assertThat(w.welcomed.get(30, TimeUnit.SECONDS)).as("watch again " + i + " " + w.end.getNow(null)).isTrue();
      w.call.cancel("done", null);
    }
  }
}

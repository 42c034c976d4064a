package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.ConfigException;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Health stays open, reflection behind ops:reflection when so configured, and the settings are checked. */
class ReflectionAndSettingsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withAuth(
      AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET,
          "DELTASYNC_REFLECTION", "permission"))));

  private static Status listServices(Channel channel) throws Exception {
    CompletableFuture<Status> done = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse value) {
            done.complete(Status.OK);
          }

          @Override
          public void onError(Throwable t) {
            done.complete(Status.fromThrowable(t));
          }

          @Override
          public void onCompleted() {
            done.complete(Status.OK);
          }
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    requests.onCompleted();
    return done.get(60, TimeUnit.SECONDS);
  }

  @Test
  void healthIsOpenAndReflectionNeedsItsPermission() throws Exception {
    assertThat(HealthGrpc.newBlockingStub(server.channel()).withDeadlineAfter(60, TimeUnit.SECONDS)
        .check(HealthCheckRequest.getDefaultInstance()).getStatus().name()).isEqualTo("SERVING");

    assertThat(listServices(server.channel()).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(listServices(Credentials.bearer(server.channel(), Credentials.hs256(
        claims("w", List.of("writer"), List.of()).build()))).getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
    assertThat(listServices(Credentials.bearer(server.channel(), Credentials.hs256(
        claims("a", List.of("admin"), List.of()).build()))).getCode()).isEqualTo(Status.Code.OK);
  }

  @Test
  void badSettingsNameTheirVariable() {
    for (var bad : List.of(Map.of("DELTASYNC_AUTH", "maybe"), Map.of("DELTASYNC_JWT_HS256_SECRET", "short"),
        Map.of("DELTASYNC_JWT_JWKS_URL", "http://idp.example/jwks.json"),
        Map.of("DELTASYNC_JWT_LEEWAY_SECONDS", "601"), Map.of("DELTASYNC_REFLECTION", "sometimes"),
        Map.of("DELTASYNC_MAX_STREAMS_PER_PRINCIPAL", "0"), Map.of("DELTASYNC_ALLOW_PLAINTEXT", "yes"))) {
      String name = bad.keySet().iterator().next();
      assertThatThrownBy(() -> TestServerConfig.from(bad)).isInstanceOf(ConfigException.class)
          .hasMessageStartingWith(name);
    }
    AuthSettings defaults = TestServerConfig.from(Map.of()).auth();
    assertThat(defaults.mode()).isEqualTo(AuthSettings.Mode.AUTO);
    assertThat(defaults.effectiveMode(true)).isEqualTo(AuthSettings.Mode.TOKEN);
    assertThat(defaults.usesDevelopmentKey(true)).isTrue();
    assertThat(defaults.effectiveMode(false)).isEqualTo(AuthSettings.Mode.NONE);
    assertThat(defaults.leeway().toSeconds()).isEqualTo(60);
    assertThat(TestServerConfig.from(Map.of("DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET)).auth().toString())
        .contains("hs256=true").doesNotContain(Credentials.SECRET);
  }
}

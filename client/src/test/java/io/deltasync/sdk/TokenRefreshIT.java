package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jwt.JWTClaimsSet;
import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against the real server with authentication on: a client whose tokens live 6 seconds keeps one stream open past
 * several expiries, refreshing its token on the open stream when the server announces the expiry, and keeps
 * receiving other clients' changes live.
 */
class TokenRefreshIT {
  private static final Duration TOKEN_LIFE = Duration.ofSeconds(6);

  @TempDir
  Path dir;

  private static String token(String sub) {
    JWTClaimsSet claims = Credentials.claims(sub, List.of("writer"), List.of("inspections"))
        .expirationTime(Date.from(Instant.now().plus(TOKEN_LIFE))).build();
    return Credentials.hs256(claims);
  }

  @Test
  void aStreamOutlivesSeveralTokensByRefreshingThemInPlace() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0",
            "DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET,
            "DELTASYNC_JWT_ISSUER", Credentials.ISSUER, "DELTASYNC_JWT_AUDIENCE", Credentials.AUDIENCE,
            "DELTASYNC_JWT_LEEWAY_SECONDS", "0", "DELTASYNC_TOKEN_EXPIRY_WARNING_SECONDS", "4"))
        .withPort(0)
        .withDatabase(database.url(), database.user(), database.password());
    AtomicInteger issued = new AtomicInteger();
    try (DeltaSyncServer server = DeltaSyncServer.start(config);
        Device device = new Device(dir.resolve("a.db"), server.port(), b -> b.clientId("tablet")
            .subscribe("inspection", "inspections").tokenProvider(() -> {
              issued.incrementAndGet();
              return token("alice");
            }))) {
      device.client.start();
      device.client.create("inspection", "inspections", "gate-1", doc("state", "open"));
      device.awaitSynced();

      // Two refreshes on the open stream at least, and the first token expired (each is refreshed about two
      // seconds into its six: warned four seconds before expiry).
      Instant firstExpired = Instant.now().plus(TOKEN_LIFE).plusSeconds(1);
      await("the first token expired, refreshed in place",
          () -> issued.get() >= 3 && Instant.now().isAfter(firstExpired));
      ManagedChannel other = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      try {
        var result = SyncServiceGrpc.newBlockingStub(Credentials.bearer(other, token("bob")))
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .push(PushRequest.newBuilder().setClientId("desk").addDeltas(io.deltasync.v1.Delta.newBuilder()
                .setDeltaId("bob-1").setEntityType("inspection").setEntityId("gate-2").setScope("inspections")
                .setOperation(io.deltasync.v1.Operation.OPERATION_CREATE).setData(doc("state", "closed"))).build());
        assertThat(result.getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      } finally {
        other.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
      await("bob's change arrives on the refreshed stream",
          () -> device.client.get(new EntityKey("inspections", "inspection", "gate-2")).isPresent());

      // One stream all along: never offline or reconnecting after the first time it went live.
      int firstLive = device.states.stream().map(SyncState::phase).toList().indexOf(SyncState.Phase.LIVE);
      assertThat(device.states.subList(firstLive, device.states.size())).extracting(SyncState::phase)
          .doesNotContain(SyncState.Phase.OFFLINE, SyncState.Phase.CONNECTING);
    }
  }
}

package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.Subscription;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Shutdown drains politely: health turns NOT_SERVING first and streams are told to reconnect only after the drain
 * delay, so that load balancers have stopped routing here by the time clients reconnect.
 */
class ShutdownDrainIT {
  @Test
  void healthGoesFirstThenStreamsAreToldToReconnect() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DeltaSyncServer server = DeltaSyncServer.start(TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "3"))
        .withPort(0).withDatabase(database.url(), database.user(), database.password()));
    ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    try (StreamClient stream = new StreamClient(channel)) {
      stream.hello("draining", "", Subscription.newBuilder().addScopes("drain").build());
      stream.awaitLive();
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
      assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus()).isEqualTo(ServingStatus.SERVING);

      Thread closing = Thread.ofPlatform().start(server::close);
      ServingStatus status = ServingStatus.SERVING;
      for (int i = 0; i < 300 && status == ServingStatus.SERVING; i++) {
        status = health.check(HealthCheckRequest.getDefaultInstance()).getStatus();
        Thread.sleep(10);
      }
      assertThat(status).isEqualTo(ServingStatus.NOT_SERVING);
      stream.assertOpen();

      Status end = stream.awaitEnd();
      assertThat(end.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(end.getDescription()).contains("shutting down");
      closing.join();
    } finally {
      channel.shutdownNow();
      server.close();
    }
  }
}

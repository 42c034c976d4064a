package io.deltasync.server;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import io.deltasync.server.database.EmbeddedDatabase;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The database goes away under a running server and comes back: clear errors, nothing half-applied. */
class DatabaseOutageIT {
  @TempDir
  Path dataDirectory;

  private static ServingStatus awaitHealth(HealthGrpc.HealthBlockingStub health, ServingStatus wanted)
      throws InterruptedException {
    ServingStatus status = null;
    // The server re-checks the database every 5 s; give it several periods on a loaded machine.
    for (int i = 0; i < 300 && status != wanted; i++) {
      status = health.check(HealthCheckRequest.getDefaultInstance()).getStatus();
      if (status != wanted) {
        Thread.sleep(100);
      }
    }
    return status;
  }

  @Test
  void pushesAnswerUnavailableWhileTheDatabaseIsDownAndWorkAgainAfter() throws Exception {
    EmbeddedDatabase postgres = EmbeddedDatabase.start(dataDirectory, 0);
    int port = postgres.port();
    ServerConfig config = TestServerConfig.from(Map.of()).withPort(0)
        .withDatabase(postgres.jdbcUrl(), postgres.user(), postgres.password());
    try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      try {
        SyncServiceGrpc.SyncServiceBlockingStub sync = SyncServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(120, TimeUnit.SECONDS);
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        assertThat(sync.push(PushRequest.newBuilder().setClientId("phone").addDeltas(create("before",
            doc("v", "1"))).build()).getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

        postgres.close();

        List<DeltaResult> down = sync.push(PushRequest.newBuilder().setClientId("phone")
            .addDeltas(create("during-1", doc("v", "1"))).addDeltas(create("during-2", doc("v", "1"))).build())
            .getResultsList();
        assertThat(down).allSatisfy(result -> {
          assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
          assertThat(result.getError().getCode()).isEqualTo(Code.UNAVAILABLE_VALUE);
          assertThat(result.getError().getMessage()).contains("retry it (same delta_id)");
        });
        assertThat(awaitHealth(health, ServingStatus.NOT_SERVING)).isEqualTo(ServingStatus.NOT_SERVING);

        postgres = EmbeddedDatabase.start(dataDirectory, port);
        assertThat(awaitHealth(health, ServingStatus.SERVING)).isEqualTo(ServingStatus.SERVING);
        DeltaResult after = sync.push(PushRequest.newBuilder().setClientId("phone")
            .addDeltas(create("after", doc("v", "1"))).build()).getResults(0);
        assertThat(after.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(server.database().dsl().fetch("select entity_id from entity order by entity_id")
            .getValues(0, String.class)).containsExactly("after", "before");
      } finally {
        channel.shutdownNow();
      }
    } finally {
      postgres.close();
    }
  }
}

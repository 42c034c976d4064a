package io.deltasync.server.admission;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.OpsConfig;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.database.EmbeddedDatabase;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * While health knows the database is down, a push is answered UNAVAILABLE / DATABASE_UNAVAILABLE without waiting
 * for a pool connection. Before, every push waited for the pool's acquire timeout (5 s, and about 15 s per push in
 * the reliability suite) and only then answered. Measured without a clock: the request pool's own count of
 * connection requests that timed out (HikariCP's {@code hikaricp_connections_timeout_total}) does not move across
 * the pushes, nor across a scrape (whose watermark-age gauge would otherwise ask the pool).
 */
class DatabaseDownFastFailIT {
  private static final Pattern POOL_TIMEOUTS = Pattern.compile(
      "hikaricp_connections_timeout_total\\{pool=\"deltasync\"[^}]*\\} ([0-9.E]+)");

  @TempDir
  Path dataDirectory;

  @Test
  void pushesDuringAKnownOutageAreAnsweredWithoutWaitingForThePool() throws Exception {
    EmbeddedDatabase postgres = EmbeddedDatabase.start(dataDirectory, 0);
    int port = postgres.port();
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_METRICS_PORT", "0")).withPort(0)
        .withDatabase(postgres.jdbcUrl(), postgres.user(), postgres.password());
    try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      HttpClient http = HttpClient.newHttpClient();
      URI metrics = URI.create("http://127.0.0.1:" + server.metricsPort().getAsInt() + "/metrics");
      try {
        SyncServiceGrpc.SyncServiceBlockingStub sync = SyncServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(120, TimeUnit.SECONDS);
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        assertThat(sync.push(push("before")).getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

        postgres.close();
        awaitHealth(health, ServingStatus.NOT_SERVING);
        // A scrape during the known outage does not wait for the pool either (the watermark-age gauge is NaN
        // without asking it): an idle scrape adds no pool timeout, nor do the pushes between two scrapes.
        double first = poolTimeouts(http, metrics);
        double timeoutsBefore = poolTimeouts(http, metrics);
        assertThat(timeoutsBefore - first).as("pool timeouts added by one scrape during the known outage").isZero();
        for (int i = 0; i < 3; i++) {
          for (DeltaResult result : sync.push(push("during-" + i)).getResultsList()) {
            assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
            assertThat(result.getError().getCode()).isEqualTo(Code.UNAVAILABLE_VALUE);
            assertThat(result.getError().getDetails(0).unpack(ErrorInfo.class).getReason())
                .isEqualTo("DATABASE_UNAVAILABLE");
          }
        }
        assertThat(poolTimeouts(http, metrics) - timeoutsBefore).as("pushes answered during the known outage waited for no pool "
            + "connection").isZero();

        postgres = EmbeddedDatabase.start(dataDirectory, port);
        awaitHealth(health, ServingStatus.SERVING);
        assertThat(sync.push(push("after")).getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(server.database().dsl().fetch("select entity_id from entity order by entity_id")
            .getValues(0, String.class)).containsExactly("after-a", "after-b", "before-a", "before-b");
      } finally {
        channel.shutdownNow();
      }
    } finally {
      postgres.close();
    }
  }

  private static PushRequest push(String id) {
    return PushRequest.newBuilder().setClientId("phone").addDeltas(create(id + "-a", doc("v", "1")))
        .addDeltas(create(id + "-b", doc("v", "1"))).build();
  }

  private static double poolTimeouts(HttpClient http, URI metrics) throws Exception {
    String body = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = POOL_TIMEOUTS.matcher(body);
    assertThat(m.find()).as("the request pool's timeout counter in %s", metrics).isTrue();
    return Double.parseDouble(m.group(1));
  }

  private static void awaitHealth(HealthGrpc.HealthBlockingStub health, ServingStatus wanted) throws Exception {
    // A guard against a hang, never a timing check: the server re-checks the database every 5 s.
    for (int i = 0; i < 1_200; i++) {
      if (health.check(HealthCheckRequest.getDefaultInstance()).getStatus() == wanted) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("health never became " + wanted);
  }
}

package io.deltasync.server.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Hellos take turns (DELTASYNC_HELLO_CONCURRENCY): a burst waits rather than failing, one at a time here, and every
 * stream gets its whole initial state and goes live (no turn is lost on the way).
 */
class HelloAdmissionIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_DB_POOL_SIZE", "2", "DELTASYNC_HELLO_CONCURRENCY", "1",
              "DELTASYNC_WARMUP_ITERATIONS", "20",
              "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
          .withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  private static Subscription scope(String scope) {
    return Subscription.newBuilder().addScopes(scope).build();
  }

  @Test
  void aBurstOfHellosTakesTurnsAndEveryStreamGetsLive() {
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) select 'burst', 'note', "
        + "'n-' || i, '{}'::jsonb from generate_series(1, 30) i");
    List<StreamClient> streams = new ArrayList<>();
    try {
      for (int i = 0; i < 40; i++) {
        StreamClient stream = new StreamClient(server.channel());
        streams.add(stream);
        stream.hello("burst-" + i, "", scope("burst"));
      }
      for (StreamClient stream : streams) {
        stream.awaitLive();
        stream.assertOpen();
        assertThat(stream.changes()).hasSize(30);
      }
    } finally {
      streams.forEach(StreamClient::close);
    }
  }
}

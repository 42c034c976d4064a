package io.deltasync.server.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.FirstRoundConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.GetMetricsRequest;
import io.deltasync.v1.Metric;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What start-up readies for the first round (warmup.FirstRound, DELTASYNC_WARMUP_METERS and
 * DELTASYNC_WARMUP_DELIVERY_AUTH): the gRPC meters of methods nobody has called yet exist, at zero, from the first
 * scrape, and the delivery warm-up's streams are anonymous when the server's clients are; each can be turned off.
 */
class FirstRoundIT {
  /** Defaults (the test servers run without authentication, as the benchmark's does). */
  @RegisterExtension
  static final DeltaSyncServerExtension readied = new DeltaSyncServerExtension();

  /** Everything of the first round off. */
  @RegisterExtension
  static final DeltaSyncServerExtension cold = new DeltaSyncServerExtension(config -> config.withFirstRound(
      config.firstRound().withMeters(false).withFeedConnections(false)
          .withDeliveryWarmupAuth(FirstRoundConfig.DeliveryAuth.TOKEN)));

  private static List<Metric> metrics(DeltaSyncServerExtension server) {
    return server.admin().getMetrics(GetMetricsRequest.getDefaultInstance()).getMetricsList();
  }

  /** The series of Push's gRPC meters and of live changes sent, by name. */
  private static List<String> firstRoundSeries(List<Metric> metrics) {
    return metrics.stream()
        .filter(m -> (m.getName().startsWith("grpc_server_") && "Push".equals(m.getLabelsMap().get("method")))
            || (m.getName().startsWith("deltasync_stream_changes_sent") && m.getLabelsMap().containsKey("phase")))
        .map(m -> m.getName() + m.getLabelsMap())
        .toList();
  }

  @Test
  void pushMetersAndChangesSentExistAtZeroBeforeTheFirstPush() {
    List<Metric> metrics = metrics(readied);
    assertThat(firstRoundSeries(metrics)).anyMatch(s -> s.startsWith("grpc_server_processing_duration_seconds_count")
            && s.contains("statusCode=OK"))
        .anyMatch(s -> s.startsWith("grpc_server_requests_received_messages_total"))
        .anyMatch(s -> s.startsWith("grpc_server_responses_sent_messages_total"))
        .anyMatch(s -> s.startsWith("deltasync_stream_changes_sent_total") && s.contains("phase=live"))
        .anyMatch(s -> s.startsWith("deltasync_stream_changes_sent_total") && s.contains("phase=catch_up"))
        .anyMatch(s -> s.startsWith("deltasync_stream_changes_sent_total") && s.contains("phase=initial_state"));
    assertThat(metrics).filteredOn(m -> firstRoundSeries(List.of(m)).size() == 1)
        .allSatisfy(m -> assertThat(m.getValue()).as(m.getName()).isZero());
  }

  @Test
  void offTheMetersAreCreatedAtFirstUse() {
    assertThat(firstRoundSeries(metrics(cold))).isEmpty();
  }

  /**
   * Which way the warm-up's streams were authenticated (that anonymous warm-up streams go live and receive their
   * pages is DeliveryWarmupIT's: its server runs without authentication, as these do; here the warm-up has only the
   * test servers' 300 ms, which a loaded machine may spend before every stream is live).
   */
  @Test
  void theDeliveryWarmupsStreamsAreAnonymousAsTheServersClientsAreUnlessTurnedOff() {
    assertThat(readied.server().deliveryWarmup().anonymous()).isTrue();
    assertThat(cold.server().deliveryWarmup().anonymous()).isFalse();
  }
}

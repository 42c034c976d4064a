package io.deltasync.server.telemetry;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetMetricsRequest;
import io.deltasync.v1.Metric;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.Subscription;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Prometheus endpoint is scraped with a plain HTTP client and parsed; after a known workload (N applied, M
 * conflicts, K rejected, one replay) its figures and GetMetrics' agree, and both say what happened.
 */
class MetricsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withConflicts(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, config.conflicts())
      .withOps(config.ops().withMetricsPort(0)));

  private static final int APPLIED_UNARY = 5;
  private static final int CONFLICTS = 3;
  private static final int REJECTED = 2;

  @Test
  void scrapeAndGetMetricsAgreeAfterAKnownWorkload() throws Exception {
    Subscription scope = Subscription.newBuilder().addScopes("team-a").build();
    try (StreamClient watcher = new StreamClient(server.channel());
        StreamClient pusher = new StreamClient(server.channel())) {
      watcher.hello("watcher", "", scope);
      watcher.awaitLive();
      pusher.hello("pusher", "", scope);
      pusher.awaitLive();

      PushRequest.Builder batch = PushRequest.newBuilder().setClientId("phone");
      for (int i = 0; i < APPLIED_UNARY; i++) {
        batch.addDeltas(create("n" + i, doc("v", "1")));
      }
      PushResponse applied = server.sync().push(batch.build());
      assertThat(applied.getResultsList()).allMatch(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED);

      PushRequest.Builder stale = PushRequest.newBuilder().setClientId("phone");
      for (int i = 0; i < CONFLICTS; i++) {
        stale.addDeltas(update("n" + i, 7, doc("v", "stale")));
      }
      for (int i = 0; i < REJECTED; i++) {
        stale.addDeltas(create("bad" + i, doc("v", "1")).toBuilder().setEntityType("9 not a type"));
      }
      PushResponse mixed = server.sync().push(stale.build());
      assertThat(mixed.getResultsList()).extracting(r -> r.getStatus()).containsOnly(
          DeltaStatus.DELTA_STATUS_CONFLICT, DeltaStatus.DELTA_STATUS_REJECTED);

      Delta again = batch.getDeltas(0);
      assertThat(server.sync().push(PushRequest.newBuilder().setClientId("phone").addDeltas(again).build())
          .getResults(0).getReplayed()).isTrue();

      pusher.push("b1", create("s1", doc("v", "1")));
      assertThat(pusher.awaitResults("b1").getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      watcher.awaitChanges(APPLIED_UNARY + 1);

      Map<String, Double> scraped = PrometheusText.parse(scrape("/metrics"));
      Map<String, Double> viaGrpc = new TreeMap<>();
      for (Metric metric : server.admin().getMetrics(GetMetricsRequest.getDefaultInstance()).getMetricsList()) {
        viaGrpc.put(PrometheusText.key(metric.getName(), metric.getLabelsMap()), metric.getValue());
      }

      for (Map<String, Double> figures : List.of(scraped, viaGrpc)) {
        assertThat(figures).containsEntry("deltasync_deltas_total{status=\"applied\",}", APPLIED_UNARY + 1.0)
            .containsEntry("deltasync_deltas_total{status=\"conflict\",}", (double) CONFLICTS)
            .containsEntry("deltasync_deltas_total{status=\"rejected\",}", (double) REJECTED)
            .containsEntry("deltasync_deltas_rejected_total{reason=\"invalid_argument\",}",
                (double) REJECTED)
            .containsEntry("deltasync_deltas_replayed_total{}", 1.0)
            .containsEntry("deltasync_push_batch_deltas_count{}", 4.0)
            .containsEntry("deltasync_push_batch_deltas_sum{}",
                (double) APPLIED_UNARY + CONFLICTS + REJECTED + 1 + 1)
            .containsEntry("deltasync_push_duration_seconds_count{transport=\"stream\",}", 1.0)
            .containsEntry("deltasync_push_duration_seconds_count{transport=\"unary\",}", 3.0)
            .containsEntry("deltasync_sessions{phase=\"live\",}", 2.0);
        double conflicts = figures.entrySet().stream().filter(e -> e.getKey().startsWith("deltasync_conflicts_total{"))
            .mapToDouble(Map.Entry::getValue).sum();
        assertThat(conflicts).isEqualTo(CONFLICTS);
        assertThat(figures.keySet()).anyMatch(k -> k.startsWith("deltasync_conflicts_total{")
            && k.contains("policy=\"server_wins\""));
        // One per live message a stream sent (at most one per change, at least one).
        assertThat(figures.get("deltasync_fanout_latency_seconds_count{}")).isBetween(1.0,
            figures.get("deltasync_stream_changes_sent_total{phase=\"live\",}"));
        assertThat(figures.get("deltasync_changefeed_dispatch_lag_seconds_count{}")).isGreaterThanOrEqualTo(
            APPLIED_UNARY + 1);
        assertThat(figures.get("deltasync_stream_changes_sent_total{phase=\"live\",}")).isGreaterThanOrEqualTo(
            APPLIED_UNARY + 1);
        assertThat(figures).containsKey("deltasync_changefeed_watermark_age_seconds{}")
            .containsKey("deltasync_stream_queued_changes{}")
            .containsKey("deltasync_stream_fallbacks_total{}")
            .containsKey("deltasync_changes_degraded_total{}");
        assertThat(figures.keySet()).anyMatch(k -> k.startsWith("hikaricp_connections_active{"))
            .anyMatch(k -> k.startsWith("jvm_memory_used_bytes{"))
            .anyMatch(k -> k.startsWith("grpc_server_processing_duration_seconds_count{")
                && k.contains("method=\"Push\""));
      }
      // Counters only grow: everything the scrape counted about deltas, GetMetrics counted the same.
      Map<String, Double> deltasScraped = new HashMap<>();
      scraped.forEach((k, v) -> {
        if (k.startsWith("deltasync_deltas") || k.startsWith("deltasync_conflicts")) {
          deltasScraped.put(k, v);
        }
      });
      assertThat(viaGrpc).containsAllEntriesOf(deltasScraped);
    }
  }

  @Test
  void otherPathsAreNotFoundAndOnlyGetIsServed() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    URI base = URI.create("http://127.0.0.1:" + server.server().metricsPort().orElseThrow());
    assertThat(http.send(HttpRequest.newBuilder(base.resolve("/other")).build(),
        HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
    assertThat(http.send(HttpRequest.newBuilder(base.resolve("/metrics")).POST(HttpRequest.BodyPublishers.noBody())
        .build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(405);
    HttpResponse<String> ok = http.send(HttpRequest.newBuilder(base.resolve("/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(ok.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type)
        .startsWith("text/plain; version=0.0.4"));
  }

  private static String scrape(String path) throws Exception {
    HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + server.server().metricsPort().orElseThrow() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }
}

package io.deltasync.server.warmup;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetMetricsRequest;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.Metric;
import io.deltasync.v1.Subscription;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The start-up warm-up of live delivery runs real Sync streams over loopback with live pages through the fan-out,
 * and leaves nothing a client could see: no session of the server's, no row, no metric; the server serves normally
 * after.
 */
class DeliveryWarmupIT {
  private static final int STREAMS = 8;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(
      config -> config.withScale(config.scale().withDeliveryWarmup(Duration.ofSeconds(20), STREAMS)));

  private long rows(String table) {
    return ((Number) server.sql().fetchValue("select count(*) from " + table)).longValue();
  }

  /** What GetMetrics reports about Sync calls and what streams sent. */
  private double syncActivity() {
    List<Metric> metrics = server.admin().getMetrics(GetMetricsRequest.getDefaultInstance()).getMetricsList();
    double activity = 0;
    for (Metric metric : metrics) {
      boolean syncCall = metric.getLabelsMap().values().stream().anyMatch(v -> v.endsWith("Sync"))
          && metric.getName().startsWith("grpc_server");
      boolean sent = metric.getName().startsWith("deltasync_stream_changes_sent")
          || metric.getName().startsWith("deltasync_fanout_latency_seconds_count")
          || metric.getName().equals("deltasync_sessions");
      if (syncCall || sent) {
        activity += metric.getValue();
      }
    }
    return activity;
  }

  @Test
  void theWarmupDeliveredLivePagesOverLoopbackAndLeftNothingVisible() {
    DeliveryWarmup.Result warmed = server.server().deliveryWarmup();
    assertThat(warmed.failure()).isEmpty();
    assertThat(warmed.streams()).isEqualTo(STREAMS);
    // The test servers run without authentication, so the warm-up's streams are anonymous too (FirstRoundIT).
    assertThat(warmed.anonymous()).isTrue();
    assertThat(warmed.pages()).isPositive();
    // Every stream received the pages (a few may still have been on their way when the warm-up ended).
    assertThat(warmed.received()).isGreaterThanOrEqualTo((warmed.pages() * 7 / 8 - 16) * STREAMS);

    // Nothing of it is left: no session, no row, no metric of a Sync call or of changes sent; health SERVING.
    assertThat(server.server().sessions().stats()).isEmpty();
    assertThat(rows("entity")).isZero();
    assertThat(rows("change_log")).isZero();
    assertThat(rows("applied_delta")).isZero();
    // What a hello records of its client (grants, when it was seen) is written coalesced; a status query writes
    // what is pending first.
    assertThatThrownBy(() -> server.sync().getStatus(GetStatusRequest.newBuilder().setClientId("someone").build()))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(rows("client_sync_status")).isZero();
    assertThat(syncActivity()).isZero();
    assertThat(HealthGrpc.newBlockingStub(server.channel()).check(HealthCheckRequest.getDefaultInstance())
        .getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

    // A stream on the warm-up's scope starts empty and receives a real write, live; now the metrics count it.
    try (StreamClient warmupScope = new StreamClient(server.channel());
        StreamClient writer = new StreamClient(server.channel())) {
      warmupScope.hello("after-delivery-warmup", "", Subscription.newBuilder().addScopes(DeliveryWarmup.SCOPE)
          .build());
      writer.hello("writer", "", Subscription.newBuilder().addScopes("elsewhere").build());
      warmupScope.awaitLive();
      writer.awaitLive();
      assertThat(warmupScope.changes()).isEmpty();
      writer.push("p1", create("real", doc("title", "a real write")).toBuilder().setScope(DeliveryWarmup.SCOPE)
          .build());
      assertThat(writer.awaitResults("p1").getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(warmupScope.awaitChanges(1)).singleElement()
          .satisfies(change -> assertThat(change.getEntity().getEntityId()).isEqualTo("real"));
      assertThat(syncActivity()).isPositive();
    }
  }
}

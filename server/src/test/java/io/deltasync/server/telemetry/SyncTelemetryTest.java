package io.deltasync.server.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/** Push spans, their ids in the logging MDC, and tracing that is off when nothing is configured. */
class SyncTelemetryTest {
  @Test
  void aPushRunsInASpanWhoseIdsAreInTheMdcMeanwhile() {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    try (Tracing tracing = Tracing.exportingTo(exporter, "test", SimpleSpanProcessor::create)) {
      SyncTelemetry telemetry = new SyncTelemetry(new SimpleMeterRegistry(), tracing.tracer());
      AtomicReference<String> traceId = new AtomicReference<>();
      AtomicReference<String> spanId = new AtomicReference<>();
      telemetry.push("unary", "phone-1", 2, () -> {
        traceId.set(MDC.get("trace_id"));
        spanId.set(MDC.get("span_id"));
        return List.of(DeltaResult.newBuilder().setStatus(DeltaStatus.DELTA_STATUS_APPLIED).build(),
            DeltaResult.newBuilder().setStatus(DeltaStatus.DELTA_STATUS_REJECTED).build());
      });

      assertThat(MDC.get("trace_id")).isNull();
      List<SpanData> spans = exporter.getFinishedSpanItems();
      assertThat(spans).hasSize(1);
      SpanData push = spans.getFirst();
      assertThat(push.getName()).isEqualTo("deltasync.push");
      assertThat(push.getTraceId()).isEqualTo(traceId.get());
      assertThat(push.getSpanId()).isEqualTo(spanId.get());
      assertThat(push.getAttributes().asMap()).extractingByKey(
          io.opentelemetry.api.common.AttributeKey.longKey("deltasync.push.applied")).isEqualTo(1L);
      assertThat(push.getAttributes().asMap()).extractingByKey(
          io.opentelemetry.api.common.AttributeKey.longKey("deltasync.push.rejected")).isEqualTo(1L);
      assertThat(push.getResource().getAttribute(io.opentelemetry.api.common.AttributeKey.stringKey(
          "service.name"))).isEqualTo("test");
    }
  }

  @Test
  void withoutAnEndpointNothingIsTracedAndNothingGoesInTheMdc() {
    try (Tracing off = Tracing.of(Optional.empty(), "deltasync")) {
      SyncTelemetry telemetry = new SyncTelemetry(new SimpleMeterRegistry(), off.tracer());
      AtomicReference<String> traceId = new AtomicReference<>("unset");
      telemetry.push("unary", "phone-1", 0, () -> {
        traceId.set(MDC.get("trace_id"));
        return List.of();
      });
      assertThat(traceId.get()).isNull();
      assertThat(off.tracer().spanBuilder("x").startSpan().getSpanContext().isValid()).isFalse();
    }
  }

  @Test
  void anEndpointMakesAnExportingTracerWithoutConnectingUntilThereIsSomethingToSend() {
    // Port 9 (discard) on loopback: building the exporter must not need the collector to be there.
    try (Tracing otlp = Tracing.of(Optional.of(URI.create("http://127.0.0.1:9")), "deltasync")) {
      assertThat(otlp.tracer().spanBuilder("x").startSpan().getSpanContext().isValid()).isTrue();
    }
  }
}

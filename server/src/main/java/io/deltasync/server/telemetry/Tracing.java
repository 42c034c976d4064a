package io.deltasync.server.telemetry;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SpanProcessor;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import java.net.URI;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * OpenTelemetry tracing: spans exported over OTLP/HTTP when an endpoint is configured, and a no-op tracer otherwise
 * (no exporter, no thread, no network call). Built by hand rather than with the SDK's autoconfiguration, whose
 * default exporter is OTLP to localhost: an unconfigured server must not send anything anywhere.
 */
public final class Tracing implements AutoCloseable {
  private static final String INSTRUMENTATION = "io.deltasync.server";

  private final OpenTelemetry openTelemetry;
  private final SdkTracerProvider provider;

  private Tracing(OpenTelemetry openTelemetry, SdkTracerProvider provider) {
    this.openTelemetry = openTelemetry;
    this.provider = provider;
  }

  /** No tracing. */
  public static Tracing off() {
    return new Tracing(OpenTelemetry.noop(), null);
  }

  /** Spans sent in batches to the OTLP/HTTP collector at {@code endpoint} (for example http://collector:4318). */
  public static Tracing otlp(URI endpoint, String serviceName) {
    String base = endpoint.toString().replaceAll("/+$", "");
    return exportingTo(OtlpHttpSpanExporter.builder().setEndpoint(base + "/v1/traces").build(), serviceName,
        BatchSpanProcessor::create);
  }

  /** Spans handed to {@code exporter} through {@code processor} (tests use an in-memory exporter). */
  public static Tracing exportingTo(SpanExporter exporter, String serviceName,
      java.util.function.Function<SpanExporter, SpanProcessor> processor) {
    SdkTracerProvider provider = SdkTracerProvider.builder()
        .setResource(Resource.getDefault().merge(Resource.create(Attributes.of(
            AttributeKey.stringKey("service.name"), serviceName))))
        .addSpanProcessor(processor.apply(exporter))
        .build();
    return new Tracing(OpenTelemetrySdk.builder().setTracerProvider(provider).build(), provider);
  }

  /** As configured: OTLP when an endpoint is given, else off. */
  public static Tracing of(Optional<URI> endpoint, String serviceName) {
    return endpoint.map(uri -> otlp(uri, serviceName)).orElseGet(Tracing::off);
  }

  /** The server's tracer. */
  public Tracer tracer() {
    return openTelemetry.getTracer(INSTRUMENTATION);
  }

  /** Sends what is buffered and stops exporting. */
  @Override
  public void close() {
    if (provider != null) {
      provider.shutdown().join(10, TimeUnit.SECONDS);
    }
  }
}

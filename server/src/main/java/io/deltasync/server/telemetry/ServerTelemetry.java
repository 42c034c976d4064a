package io.deltasync.server.telemetry;

import io.deltasync.v1.GetMetricsResponse;
import io.grpc.ServerInterceptor;
import io.micrometer.core.instrument.binder.grpc.MetricCollectingServerInterceptor;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.util.OptionalInt;

/**
 * One server's telemetry: a Prometheus registry (one per server, so that several servers in one JVM, as in tests,
 * never mix figures) with the deltasync meters, the JVM's and gRPC's, the optional scrape endpoint, and tracing.
 */
public final class ServerTelemetry implements AutoCloseable {
  private final PrometheusMeterRegistry registry;
  private final Tracing tracing;
  private final SyncTelemetry sync;
  private final JvmGcMetrics gc;
  private final MetricCollectingServerInterceptor grpcMetrics;
  private PrometheusEndpoint endpoint;

  /** Creates the registry with the JVM's meters bound, and spans going to {@code tracing}. */
  public ServerTelemetry(Tracing tracing) {
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.tracing = tracing;
    this.sync = new SyncTelemetry(registry, tracing.tracer());
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    this.gc = new JvmGcMetrics();
    gc.bindTo(registry);
    this.grpcMetrics = new MetricCollectingServerInterceptor(registry);
  }

  /** The deltasync meters. */
  public SyncTelemetry sync() {
    return sync;
  }

  /** The tracer of the server's spans (a no-op one when tracing is off). */
  public io.opentelemetry.api.trace.Tracer tracer() {
    return tracing.tracer();
  }

  /** The registry (for binders such as HikariCP's tracker). */
  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** Micrometer's gRPC binder: requests, responses and processing time per method and status code. */
  public ServerInterceptor grpcInterceptor() {
    return grpcMetrics;
  }

  /**
   * Creates {@link #grpcInterceptor}'s meters of every method of {@code services} now (requests, responses, and the
   * timer of status OK), rather than at each method's first call: that call would otherwise build them, interpreted,
   * between the request and its answer (the first push after a start: docs/performance.md, "Eighth pass: the first
   * round"). The series exist from the first scrape, at zero.
   */
  public void preregister(java.util.Collection<io.grpc.ServerServiceDefinition> services) {
    services.forEach(grpcMetrics::preregisterService);
  }

  /** Serves the scrape endpoint when a port is configured; returns the port, if any. */
  public OptionalInt serve(OptionalInt port, String host) throws IOException {
    if (port.isEmpty()) {
      return OptionalInt.empty();
    }
    endpoint = PrometheusEndpoint.start(registry, host, port.getAsInt());
    return OptionalInt.of(endpoint.port());
  }

  /** The port of the scrape endpoint, if it is served. */
  public OptionalInt port() {
    return endpoint == null ? OptionalInt.empty() : OptionalInt.of(endpoint.port());
  }

  /** The same samples as the endpoint, for GetMetrics. */
  public GetMetricsResponse view() {
    return MetricsView.of(registry);
  }

  @Override
  public void close() {
    if (endpoint != null) {
      endpoint.close();
    }
    gc.close();
    registry.close();
    tracing.close();
  }
}

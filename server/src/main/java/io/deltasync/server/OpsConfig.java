package io.deltasync.server;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Operations settings: the metrics endpoint, clean-up retentions and schedule, the log format. Tombstones keep their
 * own retention in {@link ServerConfig#tombstoneRetention()} (CLEANUP_TOMBSTONE_DAYS).
 *
 * @param metricsPort the port of the Prometheus endpoint; empty = no endpoint (the default), 0 = any free port
 * @param metricsHost the address the Prometheus endpoint listens on (loopback by default)
 * @param changeLogRetention change-log entries older than this are purged; cursors older than what is kept resync
 * @param appliedDeltaRetention idempotency records older than this are purged: a retry arriving later is applied
 *     again, so keep this longer than the longest offline period clients may have
 * @param clientStatusRetention status rows of clients not heard from for this long are purged
 * @param resolvedConflictRetention conflicts resolved this long ago are purged
 * @param cleanupInterval how often the automatic clean-up runs; zero = never (CleanupTombstones still works)
 * @param cleanupBatchSize the most rows one clean-up transaction deletes
 * @param logFormat {@code text} or {@code json} (read by logback.xml; checked here so a typo stops start-up)
 * @param otlpEndpoint where spans go over OTLP/HTTP (for example http://collector:4318); empty = no tracing
 * @param serviceName the service.name of the spans
 */
public record OpsConfig(OptionalInt metricsPort, String metricsHost, Duration changeLogRetention,
    Duration appliedDeltaRetention, Duration clientStatusRetention, Duration resolvedConflictRetention,
    Duration cleanupInterval, int cleanupBatchSize, String logFormat, Optional<URI> otlpEndpoint,
    String serviceName) {

  /** The defaults: no metrics endpoint, hourly clean-up. */
  public static OpsConfig defaults() {
    return from(Map.of());
  }

  /** Reads the operations settings from the given variables. */
  public static OpsConfig from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    OptionalInt metricsPort = s.raw("DELTASYNC_METRICS_PORT") == null ? OptionalInt.empty()
        : OptionalInt.of(s.integer("DELTASYNC_METRICS_PORT", 0, 0, 65535));
    String metricsHost = s.string("DELTASYNC_METRICS_HOST", "127.0.0.1");
    Duration changeLog = Duration.ofDays(s.integer("DELTASYNC_CLEANUP_CHANGE_LOG_DAYS", 30, 1, 36_500));
    Duration appliedDeltas = Duration.ofDays(s.integer("DELTASYNC_CLEANUP_APPLIED_DELTA_DAYS", 30, 1, 36_500));
    Duration clientStatus = Duration.ofDays(s.integer("DELTASYNC_CLEANUP_CLIENT_STATUS_DAYS", 90, 1, 36_500));
    Duration conflicts = Duration.ofDays(s.integer("DELTASYNC_CLEANUP_RESOLVED_CONFLICT_DAYS", 30, 1, 36_500));
    Duration interval = Duration.ofMinutes(s.integer("DELTASYNC_CLEANUP_INTERVAL_MINUTES", 60, 0, 7 * 24 * 60));
    int batch = s.integer("DELTASYNC_CLEANUP_BATCH_SIZE", 1_000, 1, 100_000);
    // Exactly as logback.xml names its appenders (it reads the variable itself, before this check can run).
    String format = s.string("DELTASYNC_LOG_FORMAT", "text");
    if (!format.equals("text") && !format.equals("json")) {
      throw new ConfigException("DELTASYNC_LOG_FORMAT: '" + format + "' (expected: text or json, in lower case)");
    }
    String endpointName = s.raw("DELTASYNC_OTLP_ENDPOINT") != null ? "DELTASYNC_OTLP_ENDPOINT"
        : "OTEL_EXPORTER_OTLP_ENDPOINT";
    Optional<URI> endpoint = Optional.ofNullable(s.raw(endpointName)).map(value -> {
      try {
        URI uri = new URI(value);
        if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
          return uri;
        }
      } catch (URISyntaxException e) {
        // reported below
      }
      throw new ConfigException(endpointName + ": '" + value
          + "' (expected: an http or https URL of an OTLP/HTTP collector, such as http://collector:4318)");
    });
    String serviceName = s.string("OTEL_SERVICE_NAME", "deltasync");
    return new OpsConfig(metricsPort, metricsHost, changeLog, appliedDeltas, clientStatus, conflicts, interval,
        batch, format, endpoint, serviceName);
  }

  /** A copy serving metrics on {@code port} (0 = any free port). */
  public OpsConfig withMetricsPort(int port) {
    return new OpsConfig(OptionalInt.of(port), metricsHost, changeLogRetention, appliedDeltaRetention,
        clientStatusRetention, resolvedConflictRetention, cleanupInterval, cleanupBatchSize, logFormat, otlpEndpoint,
        serviceName);
  }

  /** A copy with another automatic clean-up interval (zero = never) and batch size. */
  public OpsConfig withCleanup(Duration interval, int batchSize) {
    return new OpsConfig(metricsPort, metricsHost, changeLogRetention, appliedDeltaRetention, clientStatusRetention,
        resolvedConflictRetention, interval, batchSize, logFormat, otlpEndpoint, serviceName);
  }
}

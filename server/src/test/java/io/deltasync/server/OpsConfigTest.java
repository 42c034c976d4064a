package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** The operations settings: documented defaults, and a message naming the variable for each bad value. */
class OpsConfigTest {
  @Test
  void defaults() {
    OpsConfig ops = ServerConfig.from(Map.of()).ops();
    assertThat(ops.metricsPort()).isEqualTo(OptionalInt.empty());
    assertThat(ops.metricsHost()).isEqualTo("127.0.0.1");
    assertThat(ops.changeLogRetention()).isEqualTo(Duration.ofDays(30));
    assertThat(ops.appliedDeltaRetention()).isEqualTo(Duration.ofDays(30));
    assertThat(ops.clientStatusRetention()).isEqualTo(Duration.ofDays(90));
    assertThat(ops.resolvedConflictRetention()).isEqualTo(Duration.ofDays(30));
    assertThat(ops.cleanupInterval()).isEqualTo(Duration.ofMinutes(60));
    assertThat(ops.cleanupBatchSize()).isEqualTo(1_000);
    assertThat(ops.logFormat()).isEqualTo("text");
    assertThat(ops.otlpEndpoint()).isEmpty();
    assertThat(ops.serviceName()).isEqualTo("deltasync");
  }

  @Test
  void everySettingIsRead() {
    OpsConfig ops = OpsConfig.from(Map.ofEntries(
        Map.entry("DELTASYNC_METRICS_PORT", "9464"), Map.entry("DELTASYNC_METRICS_HOST", "0.0.0.0"),
        Map.entry("DELTASYNC_CLEANUP_CHANGE_LOG_DAYS", "7"), Map.entry("DELTASYNC_CLEANUP_APPLIED_DELTA_DAYS", "60"),
        Map.entry("DELTASYNC_CLEANUP_CLIENT_STATUS_DAYS", "365"),
        Map.entry("DELTASYNC_CLEANUP_RESOLVED_CONFLICT_DAYS", "14"),
        Map.entry("DELTASYNC_CLEANUP_INTERVAL_MINUTES", "0"), Map.entry("DELTASYNC_CLEANUP_BATCH_SIZE", "50"),
        Map.entry("DELTASYNC_LOG_FORMAT", "json"), Map.entry("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        Map.entry("OTEL_SERVICE_NAME", "sync-eu")));
    assertThat(ops).isEqualTo(new OpsConfig(OptionalInt.of(9464), "0.0.0.0", Duration.ofDays(7), Duration.ofDays(60),
        Duration.ofDays(365), Duration.ofDays(14), Duration.ZERO, 50, "json",
        Optional.of(URI.create("http://collector:4318")), "sync-eu"));
    assertThat(OpsConfig.from(Map.of("DELTASYNC_OTLP_ENDPOINT", "https://a:4318", "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://b:4318")).otlpEndpoint()).contains(URI.create("https://a:4318"));
  }

  @Test
  void badValuesNameTheVariable() {
    assertThatThrownBy(() -> OpsConfig.from(Map.of("DELTASYNC_LOG_FORMAT", "JSON")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_LOG_FORMAT: 'JSON'");
    assertThatThrownBy(() -> OpsConfig.from(Map.of("DELTASYNC_METRICS_PORT", "70000")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_METRICS_PORT: '70000'");
    assertThatThrownBy(() -> OpsConfig.from(Map.of("DELTASYNC_OTLP_ENDPOINT", "collector:4318")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_OTLP_ENDPOINT: 'collector:4318'");
    assertThatThrownBy(() -> OpsConfig.from(Map.of("DELTASYNC_CLEANUP_BATCH_SIZE", "0")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_CLEANUP_BATCH_SIZE: '0'");
    assertThatThrownBy(() -> OpsConfig.from(Map.of("DELTASYNC_CLEANUP_CHANGE_LOG_DAYS", "0")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_CLEANUP_CHANGE_LOG_DAYS: '0'");
  }
}

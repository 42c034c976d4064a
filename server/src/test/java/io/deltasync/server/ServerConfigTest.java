package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.v1.ConflictPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ServerConfigTest {
  @Test
  void defaultsAreTheDocumentedOnes() {
    ServerConfig config = ServerConfig.from(Map.of("HOME", "/home/ada"));
    assertThat(config.host()).isEqualTo("127.0.0.1");
    assertThat(config.port()).isEqualTo(7420);
    assertThat(config.dataDirectory()).isEqualTo(Path.of("/home/ada/.local/share/deltasync/postgres"));
    assertThat(config.databaseUrl()).isEmpty();
    assertThat(config.limits()).isEqualTo(new ServerConfig.Limits(500, 262_144, 50, 4_194_304, 1_000));
    assertThat(config.retryPolicy()).isEqualTo(new ServerConfig.RetryPolicy(5, Duration.ofSeconds(1),
        Duration.ofSeconds(32), 2.0));
    assertThat(config.defaultConflictPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
    assertThat(config.operationalTransformEnabled()).isTrue();
    assertThat(config.tombstoneRetention()).isEqualTo(Duration.ofDays(30));
  }

  @Test
  void readsEverySetting() {
    ServerConfig config = ServerConfig.from(Map.ofEntries(
        Map.entry("XDG_DATA_HOME", "/data"),
        Map.entry("DELTASYNC_PORT", "9000"),
        Map.entry("DELTASYNC_DATABASE_URL", "jdbc:postgresql://db:5432/sync"),
        Map.entry("DELTASYNC_DATABASE_USER", "sync"),
        Map.entry("SYNC_BATCH_SIZE", "20"),
        Map.entry("SYNC_MAX_RETRIES", "3"),
        Map.entry("SYNC_BASE_DELAY", "0.5"),
        Map.entry("SYNC_MAX_DELAY", "10"),
        Map.entry("SYNC_BACKOFF_MULTIPLIER", "1.5"),
        Map.entry("DEFAULT_CONFLICT_POLICY", "server_wins"),
        Map.entry("ENABLE_OPERATIONAL_TRANSFORM", "false"),
        Map.entry("CLEANUP_TOMBSTONE_DAYS", "7"),
        Map.entry("DELTASYNC_MAX_EDITS_PER_DELTA", "250")));
    assertThat(config.dataDirectory()).isEqualTo(Path.of("/data/deltasync/postgres"));
    assertThat(config.port()).isEqualTo(9000);
    assertThat(config.databaseUrl()).contains("jdbc:postgresql://db:5432/sync");
    assertThat(config.databaseUser()).isEqualTo("sync");
    assertThat(config.limits().pageSize()).isEqualTo(20);
    assertThat(config.limits().maxEditsPerDelta()).isEqualTo(250);
    assertThat(config.retryPolicy()).isEqualTo(new ServerConfig.RetryPolicy(3, Duration.ofMillis(500),
        Duration.ofSeconds(10), 1.5));
    assertThat(config.defaultConflictPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);
    assertThat(config.operationalTransformEnabled()).isFalse();
    assertThat(config.tombstoneRetention()).isEqualTo(Duration.ofDays(7));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "SYNC_BATCH_SIZE|abc|SYNC_BATCH_SIZE: 'abc' (expected: an integer from 1 to 10000)",
      "SYNC_BATCH_SIZE|0|SYNC_BATCH_SIZE: '0' (expected: an integer from 1 to 10000)",
      "DELTASYNC_MAX_EDITS_PER_DELTA|0|DELTASYNC_MAX_EDITS_PER_DELTA: '0' (expected: an integer from 1 to 100000)",
      "DELTASYNC_PORT|70000|DELTASYNC_PORT: '70000' (expected: an integer from 0 to 65535)",
      "SYNC_BACKOFF_MULTIPLIER|0.5|SYNC_BACKOFF_MULTIPLIER: '0.5' (expected: a number from 1.0 to 10.0)",
      "SYNC_BASE_DELAY|-1|SYNC_BASE_DELAY: '-1' (expected: a number from 0.001 to 86400.0)",
      "SYNC_MAX_DELAY|0.5|SYNC_MAX_DELAY: 0.5s (expected: >= SYNC_BASE_DELAY, 1.0s)",
      "DEFAULT_CONFLICT_POLICY|newest|DEFAULT_CONFLICT_POLICY: 'newest' (expected: one of last_write_wins, "
          + "client_wins, server_wins, operational_transform, manual)",
      "ENABLE_OPERATIONAL_TRANSFORM|maybe|ENABLE_OPERATIONAL_TRANSFORM: 'maybe' (expected: true or false)",
      "CLEANUP_TOMBSTONE_DAYS|0|CLEANUP_TOMBSTONE_DAYS: '0' (expected: an integer from 1 to 36500)",
      "DELTASYNC_DATABASE_URL|postgres://x|DELTASYNC_DATABASE_URL: 'postgres://x' (expected: a PostgreSQL JDBC URL "
          + "such as jdbc:postgresql://db.example:5432/deltasync)"})
  void anInvalidValueStopsStartUpNamingTheVariable(String name, String value, String message) {
    assertThatThrownBy(() -> ServerConfig.from(Map.of(name, value)))
        .isInstanceOf(ConfigException.class)
        .hasMessage(message);
  }

  @Test
  void policyNamesAreCaseInsensitive() {
    assertThat(ServerConfig.from(Map.of("DEFAULT_CONFLICT_POLICY", "MANUAL")).defaultConflictPolicy())
        .isEqualTo(ConflictPolicy.CONFLICT_POLICY_MANUAL);
  }
}

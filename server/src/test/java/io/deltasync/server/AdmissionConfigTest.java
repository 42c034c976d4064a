package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AdmissionConfigTest {
  @Test
  void defaultsAndSettings() {
    assertThat(ServerConfig.from(Map.of()).admission())
        .isEqualTo(new AdmissionConfig(1 << 30, Duration.ofSeconds(30), true));
    assertThat(ServerConfig.from(Map.of("DELTASYNC_ADMISSION_STRIPES", "0", "DELTASYNC_ADMISSION_WAIT_MILLIS", "250",
        "DELTASYNC_FAIL_FAST_WHILE_DB_DOWN", "false")).admission())
        .isEqualTo(new AdmissionConfig(0, Duration.ofMillis(250), false));
  }

  @Test
  void invalidValuesNameTheVariable() {
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_ADMISSION_STRIPES", "-1")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_ADMISSION_STRIPES: '-1'");
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_ADMISSION_WAIT_MILLIS", "0")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_ADMISSION_WAIT_MILLIS");
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_FAIL_FAST_WHILE_DB_DOWN", "maybe")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_FAIL_FAST_WHILE_DB_DOWN");
  }
}

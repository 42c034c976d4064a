package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ScaleConfigTest {
  @Test
  void warmupIsOffByDefaultAndBoundedInTime() {
    ScaleConfig scale = ServerConfig.from(Map.of()).scale();
    assertThat(scale.warmupEnabled()).isFalse();
    assertThat(scale.warmupIterations()).isEqualTo(1_000);
    assertThat(scale.warmupMaxDuration()).isEqualTo(Duration.ofSeconds(10));
    assertThat(scale.helloConcurrency()).isEqualTo(4);
    assertThat(scale.helloWait()).isEqualTo(Duration.ofSeconds(30));
    assertThat(scale.deliveryWarmup()).isEqualTo(Duration.ofSeconds(15));
    assertThat(scale.deliveryWarmupStreams()).isEqualTo(128);
  }

  @Test
  void readsTheVariables() {
    ScaleConfig scale = ServerConfig.from(Map.of("DELTASYNC_WARMUP", "off", "DELTASYNC_WARMUP_ITERATIONS", "50",
        "DELTASYNC_WARMUP_MAX_MILLIS", "2500", "DELTASYNC_HELLO_CONCURRENCY", "0",
        "DELTASYNC_HELLO_WAIT_MILLIS", "1500", "DELTASYNC_WARMUP_DELIVERY_MILLIS", "0",
        "DELTASYNC_WARMUP_DELIVERY_STREAMS", "16", "DELTASYNC_UNARY_THREADS", "0")).scale();
    assertThat(scale).isEqualTo(new ScaleConfig(false, 50, Duration.ofMillis(2500), 0, Duration.ofMillis(1500),
        Duration.ZERO, 16, 0));
    assertThat(scale.unaryThreads(10)).isZero();
    assertThat(ScaleConfig.defaults().unaryThreads(10)).as("as many as the database pool by default").isEqualTo(10);
  }

  @Test
  void anInvalidValueStopsStartUpNamingTheVariable() {
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_WARMUP", "maybe")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("DELTASYNC_WARMUP: 'maybe' (expected: true or false)");
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_WARMUP_MAX_MILLIS", "-1")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("DELTASYNC_WARMUP_MAX_MILLIS: '-1' (expected: an integer from 0 to 600000");
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_WARMUP_DELIVERY_STREAMS", "0")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("DELTASYNC_WARMUP_DELIVERY_STREAMS: '0' (expected: an integer from 1 to 1000");
  }
}

package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FirstRoundConfigTest {
  private static final java.nio.file.Path ROOT = java.nio.file.Path.of(System.getProperty("deltasync.projectRoot",
      "..")).toAbsolutePath().normalize();

  @Test
  void everySettingIsInTheReadme() throws Exception {
    java.util.regex.Matcher names = java.util.regex.Pattern.compile("\"(DELTASYNC_[A-Z_]+)\"").matcher(
        java.nio.file.Files.readString(ROOT.resolve("server/src/main/java/io/deltasync/server/FirstRoundConfig.java")));
    java.util.Set<String> read = new java.util.TreeSet<>();
    while (names.find()) {
      read.add(names.group(1));
    }
    assertThat(read).containsExactlyInAnyOrder("DELTASYNC_WARMUP_FEED_CONNECTIONS",
        "DELTASYNC_WARMUP_FEED_CONNECTIONS_WAIT_MILLIS", "DELTASYNC_WARMUP_METERS", "DELTASYNC_WARMUP_DELIVERY_AUTH");
    String readme = java.nio.file.Files.readString(ROOT.resolve("README.md"));
    assertThat(read).allSatisfy(name -> assertThat(readme).contains("| `" + name + "` |"));
  }
  @Test
  void everythingIsReadiedByDefault() {
    FirstRoundConfig defaults = FirstRoundConfig.defaults();
    assertThat(defaults.feedConnections()).isTrue();
    assertThat(defaults.feedConnectionsWait()).isEqualTo(Duration.ofSeconds(10));
    assertThat(defaults.meters()).isTrue();
    assertThat(defaults.deliveryWarmupAuth()).isEqualTo(FirstRoundConfig.DeliveryAuth.SERVER);
    assertThat(ServerConfig.from(Map.of()).firstRound()).isEqualTo(defaults);
  }

  @Test
  void eachPartCanBeTurnedOff() {
    FirstRoundConfig off = FirstRoundConfig.from(Map.of("DELTASYNC_WARMUP_FEED_CONNECTIONS", "false",
        "DELTASYNC_WARMUP_FEED_CONNECTIONS_WAIT_MILLIS", "0", "DELTASYNC_WARMUP_METERS", "off",
        "DELTASYNC_WARMUP_DELIVERY_AUTH", "Token"));
    assertThat(off).isEqualTo(new FirstRoundConfig(false, Duration.ZERO, false, FirstRoundConfig.DeliveryAuth.TOKEN));
  }

  @Test
  void badValuesNameTheSettingAndWhatIsExpected() {
    assertThatThrownBy(() -> FirstRoundConfig.from(Map.of("DELTASYNC_WARMUP_DELIVERY_AUTH", "maybe")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("DELTASYNC_WARMUP_DELIVERY_AUTH: 'maybe' (expected: server or token)");
    assertThatThrownBy(() -> FirstRoundConfig.from(Map.of("DELTASYNC_WARMUP_METERS", "sometimes")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_WARMUP_METERS: 'sometimes'");
    assertThatThrownBy(() -> FirstRoundConfig.from(Map.of("DELTASYNC_WARMUP_FEED_CONNECTIONS_WAIT_MILLIS", "-1")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("from 0 to 600000");
  }

  @Test
  void aCopyKeepsEverythingElse() {
    ServerConfig config = ServerConfig.from(Map.of());
    ServerConfig copy = config.withFirstRound(config.firstRound().withMeters(false));
    assertThat(copy.firstRound().meters()).isFalse();
    assertThat(copy.withFirstRound(config.firstRound())).isEqualTo(config);
    assertThat(copy.withFanOut(config.fanOut()).firstRound().meters()).isFalse();
  }
}

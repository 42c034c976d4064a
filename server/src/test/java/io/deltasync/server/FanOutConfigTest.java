package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class FanOutConfigTest {
  @Test
  void defaultsToOneThreadPerCoreAtMostFour() {
    assertThat(FanOutConfig.defaults().threads())
        .isEqualTo(Math.min(4, Runtime.getRuntime().availableProcessors()));
    assertThat(ServerConfig.from(Map.of()).fanOut()).isEqualTo(FanOutConfig.defaults());
  }

  @Test
  void readsTheSettingWithinItsRange() {
    assertThat(FanOutConfig.from(Map.of("DELTASYNC_FANOUT_THREADS", "1")).threads()).isEqualTo(1);
    assertThat(FanOutConfig.from(Map.of("DELTASYNC_FANOUT_THREADS", "64")).threads()).isEqualTo(64);
    for (String bad : new String[] {"0", "65", "two"}) {
      assertThatThrownBy(() -> FanOutConfig.from(Map.of("DELTASYNC_FANOUT_THREADS", bad)))
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining("DELTASYNC_FANOUT_THREADS: '" + bad + "'")
          .hasMessageContaining("from 1 to 64");
    }
  }

  @Test
  void aCopyKeepsEverythingElse() {
    ServerConfig config = ServerConfig.from(Map.of());
    ServerConfig copy = config.withFanOut(new FanOutConfig(3));
    assertThat(copy.fanOut().threads()).isEqualTo(3);
    assertThat(copy.withFanOut(config.fanOut())).isEqualTo(config);
    assertThat(copy.withScale(config.scale()).fanOut().threads()).isEqualTo(3);
  }
}

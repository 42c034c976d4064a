package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class StreamPagesTest {
  @Test
  void defaultIsOneMebibyteAndSyncBatchSizeStaysThePullPage() {
    ServerConfig config = ServerConfig.from(Map.of());
    assertThat(config.streamPages().pageBytes()).isEqualTo(1024 * 1024);
    assertThat(config.limits().pageSize()).isEqualTo(50);
    assertThat(DeltaSyncServer.sessionSettings(config, null).pageBytes()).isEqualTo(1024 * 1024);
  }

  @Test
  void readsTheVariableAndCapsItBelowTheMessageLimit() {
    ServerConfig config = ServerConfig.from(Map.of("DELTASYNC_STREAM_PAGE_BYTES", "8388608",
        "DELTASYNC_MAX_MESSAGE_BYTES", "4194304"));
    assertThat(config.streamPages().pageBytes()).isEqualTo(8 * 1024 * 1024);
    // The envelope (cursor, phase, framing) keeps 64 KiB of the message for itself.
    assertThat(DeltaSyncServer.sessionSettings(config, null).pageBytes()).isEqualTo(4 * 1024 * 1024 - 64 * 1024);
  }

  @Test
  void anInvalidValueStopsStartUpNamingTheVariable() {
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_STREAM_PAGE_BYTES", "100")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("DELTASYNC_STREAM_PAGE_BYTES: '100' (expected: an integer from 1024 to 268435456)");
  }
}

package io.deltasync.server.testing;

import io.deltasync.server.ServerConfig;
import java.util.HashMap;
import java.util.Map;

/**
 * {@link ServerConfig#from(Map)} for servers a test starts itself: the delivery warm-up (on by default, up to 15 s at
 * start) is bounded to 300 ms and 8 streams, so its code runs in every such test without its seconds. A test that
 * sets either variable keeps its own value.
 */
public final class TestServerConfig {
  /** The warm-up bounds every test server gets unless the test sets its own. */
  public static final Map<String, String> SHORT_WARMUP = Map.of(
      "DELTASYNC_WARMUP_DELIVERY_MILLIS", "300", "DELTASYNC_WARMUP_DELIVERY_STREAMS", "8");

  private TestServerConfig() {
  }

  /** The configuration {@code environment} describes, with {@link #SHORT_WARMUP} where it is silent. */
  public static ServerConfig from(Map<String, String> environment) {
    return ServerConfig.from(withShortWarmup(environment));
  }

  /** {@code environment} with {@link #SHORT_WARMUP} added where it is silent (for servers run as processes). */
  public static Map<String, String> withShortWarmup(Map<String, String> environment) {
    Map<String, String> merged = new HashMap<>(SHORT_WARMUP);
    merged.putAll(environment);
    return merged;
  }
}

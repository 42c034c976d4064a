package io.deltasync.server;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * What the server readies at start-up, before health answers SERVING, so that the first round of traffic after a
 * start does not pay for it (docs/performance.md, "Eighth pass: the first round"). Each part can be turned off.
 *
 * @param feedConnections whether the live feed's LISTEN and NOTIFY connections are opened (and the NOTIFY
 *     statement run once in a transaction that is rolled back, so no listener hears it) before SERVING, rather than
 *     the NOTIFY connection at the first commit
 * @param feedConnectionsWait the longest start-up waits for them; past it the server serves anyway (a connection
 *     that could not be opened is opened again when needed, as before)
 * @param meters whether the gRPC meters of every method (requests, responses, the timer of status OK) and the
 *     per-phase counters of changes sent are created at start rather than at the first call or message
 * @param deliveryWarmupAuth how the delivery warm-up's streams are authenticated: {@link DeliveryAuth#SERVER} as
 *     the server authenticates its clients (anonymous when DELTASYNC_AUTH=none, so the server call under each
 *     stream is of the class real streams have), or {@link DeliveryAuth#TOKEN} always with a token of a key that
 *     exists only during the warm-up
 */
public record FirstRoundConfig(boolean feedConnections, Duration feedConnectionsWait, boolean meters,
    DeliveryAuth deliveryWarmupAuth) {

  /** How the delivery warm-up's streams are authenticated. */
  public enum DeliveryAuth {
    /** As the server authenticates its clients (anonymous under DELTASYNC_AUTH=none; else a warm-up token). */
    SERVER,
    /** Always with a token signed by a key that exists only during the warm-up. */
    TOKEN
  }

  /** Validates. */
  public FirstRoundConfig {
    if (feedConnectionsWait.isNegative()) {
      throw new IllegalArgumentException("feedConnectionsWait: " + feedConnectionsWait + " (expected: >= 0)");
    }
    java.util.Objects.requireNonNull(deliveryWarmupAuth, "deliveryWarmupAuth");
  }

  /** The defaults. */
  public static FirstRoundConfig defaults() {
    return from(Map.of());
  }

  /**
   * Reads DELTASYNC_WARMUP_FEED_CONNECTIONS, DELTASYNC_WARMUP_FEED_CONNECTIONS_WAIT_MILLIS, DELTASYNC_WARMUP_METERS
   * and DELTASYNC_WARMUP_DELIVERY_AUTH.
   */
  public static FirstRoundConfig from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    String auth = s.string("DELTASYNC_WARMUP_DELIVERY_AUTH", "server");
    DeliveryAuth deliveryAuth = switch (auth.toLowerCase(Locale.ROOT)) {
      case "server" -> DeliveryAuth.SERVER;
      case "token" -> DeliveryAuth.TOKEN;
      default -> throw new ConfigException("DELTASYNC_WARMUP_DELIVERY_AUTH: '" + auth
          + "' (expected: server or token)");
    };
    return new FirstRoundConfig(
        s.bool("DELTASYNC_WARMUP_FEED_CONNECTIONS", true),
        Duration.ofMillis(s.integer("DELTASYNC_WARMUP_FEED_CONNECTIONS_WAIT_MILLIS", 10_000, 0, 600_000)),
        s.bool("DELTASYNC_WARMUP_METERS", true),
        deliveryAuth);
  }

  /** A copy with the feed's connections opened at start or not. */
  public FirstRoundConfig withFeedConnections(boolean open) {
    return new FirstRoundConfig(open, feedConnectionsWait, meters, deliveryWarmupAuth);
  }

  /** A copy with the meters created at start or not. */
  public FirstRoundConfig withMeters(boolean create) {
    return new FirstRoundConfig(feedConnections, feedConnectionsWait, create, deliveryWarmupAuth);
  }

  /** A copy with another authentication of the delivery warm-up's streams. */
  public FirstRoundConfig withDeliveryWarmupAuth(DeliveryAuth auth) {
    return new FirstRoundConfig(feedConnections, feedConnectionsWait, meters, auth);
  }
}

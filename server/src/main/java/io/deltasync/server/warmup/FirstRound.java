package io.deltasync.server.warmup;

import io.deltasync.server.FirstRoundConfig;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.telemetry.ServerTelemetry;
import io.grpc.ServerServiceDefinition;
import java.time.Duration;
import java.util.Collection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What start-up readies, besides the warm-ups, so that the first round of traffic after a start does not pay for
 * it (docs/performance.md, "Eighth pass: the first round"): the live feed's own connections open, and the meters a
 * first call or message would otherwise create. Each part is cheap, bounded and off-switchable
 * ({@link FirstRoundConfig}); none of it fails the start.
 */
public final class FirstRound {
  private static final Logger log = LoggerFactory.getLogger(FirstRound.class);

  private FirstRound() {}

  /** Creates the meters of {@code services}' methods and of the phases of changes sent, when configured. */
  public static void createMeters(FirstRoundConfig config, ServerTelemetry telemetry,
      Collection<ServerServiceDefinition> services) {
    if (!config.meters()) {
      return;
    }
    try {
      telemetry.preregister(services);
      telemetry.sync().preregisterPhases();
    } catch (RuntimeException e) {
      // Only colder: the meters are then created at first use, as before.
      log.warn("Creating the meters at start failed: {}", e.toString());
    }
  }

  /**
   * Waits (at most the configured time) until the live feed has opened its LISTEN and NOTIFY connections, when
   * configured; logs what happened. Never throws: a connection that could not be opened is opened when needed.
   *
   * @return whether both were tried within the wait (true when off)
   */
  public static boolean awaitFeedConnections(FirstRoundConfig config, LiveFeed feed) {
    if (!config.feedConnections()) {
      return true;
    }
    if (config.feedConnectionsWait().isZero()) {
      return false;  // opened in the background, not waited for
    }
    long start = System.nanoTime();
    boolean done;
    try {
      done = feed.awaitConnections(config.feedConnectionsWait());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      done = false;
    }
    long millis = Duration.ofNanos(System.nanoTime() - start).toMillis();
    java.util.List<String> failures = feed.connectionFailuresAtStart();
    if (done && failures.isEmpty()) {
      log.info("Live feed: LISTEN and NOTIFY connections opened at start (waited {} ms)", millis);
    } else if (done) {
      log.warn("Live feed: not opened at start, opened again when needed (polling meanwhile): {}",
          String.join("; ", failures));
    } else {
      log.warn("Live feed: LISTEN and NOTIFY connections not open after {} ms "
          + "(DELTASYNC_WARMUP_FEED_CONNECTIONS_WAIT_MILLIS); serving anyway", millis);
    }
    return done;
  }
}

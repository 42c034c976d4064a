package io.deltasync.server;

import java.util.Map;

/**
 * How the live feed hands each page to the node's live streams (docs/performance.md, "Fifth pass: fan-out").
 *
 * @param threads how many threads deliver a live page to the streams that can take it at once: the feed's own and
 *     {@code threads - 1} more, each taking a share of the streams (a thread per 64 streams at most, so a handful of
 *     streams stays on the feed's thread); a stream that is busy gets the page on its own thread instead
 */
public record FanOutConfig(int threads) {
  /** The most fan-out threads that may be configured. */
  public static final int MAX_THREADS = 64;

  /** Validates. */
  public FanOutConfig {
    if (threads < 1 || threads > MAX_THREADS) {
      throw new IllegalArgumentException("threads: " + threads + " (expected: 1.." + MAX_THREADS + ")");
    }
  }

  /** The defaults. */
  public static FanOutConfig defaults() {
    return from(Map.of());
  }

  /** Reads DELTASYNC_FANOUT_THREADS (default: one per core, at most 4). */
  public static FanOutConfig from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    return new FanOutConfig(s.integer("DELTASYNC_FANOUT_THREADS", defaultThreads(), 1, MAX_THREADS));
  }

  private static int defaultThreads() {
    return Math.min(4, Runtime.getRuntime().availableProcessors());
  }
}

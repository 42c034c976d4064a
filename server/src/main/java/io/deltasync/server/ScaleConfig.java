package io.deltasync.server;

import java.time.Duration;
import java.util.Map;

/**
 * Settings for serving many streams (docs/performance.md, "At scale"): the start-up warm-up and the admission of
 * hellos.
 *
 * @param warmupEnabled whether the server warms its hot paths (a rolled-back push of creates and updates, change-log
 *     reads, live-page messages and their serialization) before health answers SERVING, so that the first clients
 *     after a start or a deploy are not served by cold code. Nothing of it is visible to clients. Off by default
 *     (docs/performance.md, "After the merge, on a quiet machine")
 * @param warmupIterations how many rounds the warm-up runs at most (each: a rolled-back push of a few deltas, a
 *     change-log read, the message of a page built and serialized several times); 0 = none
 * @param warmupMaxDuration the longest the warm-up may delay SERVING; it stops after this even with rounds left
 * @param helloConcurrency how many Sync streams at a time may do the work between their hello and their first page
 *     (resolve the cursor, first reads, join the live feed); the others wait their turn in order. 0 = no bound
 * @param helloWait how long a hello waits for its turn; past it the stream is answered RESOURCE_EXHAUSTED /
 *     SERVER_BUSY with a RetryInfo (the client sends the hello again after a backoff)
 * @param deliveryWarmup how long the start-up warm-up of live delivery runs before health answers SERVING: Sync
 *     streams of the server's own service over loopback (Netty, the same interceptors) receive synthetic live pages
 *     through the fan-out, the hand-off, the shared serialization and gRPC's and Netty's write path until the JIT
 *     has compiled them (docs/performance.md, "Sixth pass"). Nothing is written and nothing of it is visible to
 *     clients or in the metrics. 0 = off
 * @param deliveryWarmupStreams how many streams the delivery warm-up opens
 * @param unaryThreads how many reused platform threads run unary calls (Push, Pull, conflicts, status, admin);
 *     when all are busy a call runs on a virtual thread of its own, as streaming calls do, so this bounds nothing.
 *     0 = every call on virtual threads; {@link #POOL_SIZE} (the default) = as many as DELTASYNC_DB_POOL_SIZE
 */
public record ScaleConfig(boolean warmupEnabled, int warmupIterations, Duration warmupMaxDuration,
    int helloConcurrency, Duration helloWait, Duration deliveryWarmup, int deliveryWarmupStreams, int unaryThreads) {
  /** {@link #unaryThreads} when not set: as many as the database pool's connections. */
  public static final int POOL_SIZE = -1;

  /** Validates. */
  public ScaleConfig {
    if (warmupIterations < 0) {
      throw new IllegalArgumentException("warmupIterations: " + warmupIterations + " (expected: >= 0)");
    }
    if (helloConcurrency < 0) {
      throw new IllegalArgumentException("helloConcurrency: " + helloConcurrency + " (expected: >= 0)");
    }
    if (deliveryWarmup.isNegative()) {
      throw new IllegalArgumentException("deliveryWarmup: " + deliveryWarmup + " (expected: >= 0)");
    }
    if (deliveryWarmupStreams < 1) {
      throw new IllegalArgumentException("deliveryWarmupStreams: " + deliveryWarmupStreams + " (expected: >= 1)");
    }
    if (unaryThreads < POOL_SIZE) {
      throw new IllegalArgumentException("unaryThreads: " + unaryThreads + " (expected: >= 0, or POOL_SIZE)");
    }
    if (warmupMaxDuration.isNegative()) {
      throw new IllegalArgumentException("warmupMaxDuration: " + warmupMaxDuration + " (expected: >= 0)");
    }
  }

  /** The defaults. */
  public static ScaleConfig defaults() {
    return from(Map.of());
  }

  /**
   * Reads DELTASYNC_WARMUP, DELTASYNC_WARMUP_ITERATIONS, DELTASYNC_WARMUP_MAX_MILLIS, DELTASYNC_HELLO_CONCURRENCY
   * DELTASYNC_HELLO_WAIT_MILLIS, DELTASYNC_WARMUP_DELIVERY_MILLIS, DELTASYNC_WARMUP_DELIVERY_STREAMS and DELTASYNC_UNARY_THREADS.
   */
  public static ScaleConfig from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    return new ScaleConfig(
        s.bool("DELTASYNC_WARMUP", false),
        s.integer("DELTASYNC_WARMUP_ITERATIONS", 1_000, 0, 1_000_000),
        Duration.ofMillis(s.integer("DELTASYNC_WARMUP_MAX_MILLIS", 10_000, 0, 600_000)),
        s.integer("DELTASYNC_HELLO_CONCURRENCY", 4, 0, 100_000),
        Duration.ofMillis(s.integer("DELTASYNC_HELLO_WAIT_MILLIS", 30_000, 1, 600_000)),
        Duration.ofMillis(s.integer("DELTASYNC_WARMUP_DELIVERY_MILLIS", 15_000, 0, 600_000)),
        s.integer("DELTASYNC_WARMUP_DELIVERY_STREAMS", 128, 1, 1_000),
        s.integer("DELTASYNC_UNARY_THREADS", POOL_SIZE, 0, 10_000));
  }

  /** A copy with the warm-up on or off (tests that start many servers turn it off). */
  public ScaleConfig withWarmup(boolean enabled, int iterations, Duration maxDuration) {
    return new ScaleConfig(enabled, iterations, maxDuration, helloConcurrency, helloWait, deliveryWarmup,
        deliveryWarmupStreams, unaryThreads);
  }

  /** A copy with another admission of hellos. */
  public ScaleConfig withHelloAdmission(int concurrency, Duration wait) {
    return new ScaleConfig(warmupEnabled, warmupIterations, warmupMaxDuration, concurrency, wait, deliveryWarmup,
        deliveryWarmupStreams, unaryThreads);
  }

  /** A copy with another number of unary-call threads (0 = every call on virtual threads). */
  public ScaleConfig withUnaryThreads(int threads) {
    return new ScaleConfig(warmupEnabled, warmupIterations, warmupMaxDuration, helloConcurrency, helloWait,
        deliveryWarmup, deliveryWarmupStreams, threads);
  }

  /** The unary-call threads for a database pool of {@code poolSize} connections (0 = none). */
  public int unaryThreads(int poolSize) {
    return unaryThreads == POOL_SIZE ? poolSize : unaryThreads;
  }

  /** A copy with another delivery warm-up (0 = off). */
  public ScaleConfig withDeliveryWarmup(Duration duration, int streams) {
    return new ScaleConfig(warmupEnabled, warmupIterations, warmupMaxDuration, helloConcurrency, helloWait, duration,
        streams, unaryThreads);
  }
}

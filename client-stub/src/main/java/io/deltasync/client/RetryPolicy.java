package io.deltasync.client;

import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * Exponential backoff with full jitter: before retry {@code n} (1-based) the client waits a random time between
 * 0 and {@code min(maxDelay, baseDelay * multiplier^(n-1))}. Full jitter, not a fixed schedule, so that a thousand
 * phones reconnecting after an outage spread out instead of arriving in lock-step.
 *
 * @param maxRetries the most attempts after the first (SYNC_MAX_RETRIES)
 * @param baseDelay the cap of the first retry's delay (SYNC_BASE_DELAY)
 * @param maxDelay the largest cap (SYNC_MAX_DELAY)
 * @param multiplier the cap's growth per retry (SYNC_BACKOFF_MULTIPLIER)
 */
public record RetryPolicy(int maxRetries, Duration baseDelay, Duration maxDelay, double multiplier) {
  /** Validates the values. */
  public RetryPolicy {
    if (maxRetries < 0) {
      throw new IllegalArgumentException("maxRetries: " + maxRetries + " (expected: >= 0)");
    }
    if (baseDelay.isNegative() || baseDelay.isZero()) {
      throw new IllegalArgumentException("baseDelay: " + baseDelay + " (expected: > 0)");
    }
    if (maxDelay.compareTo(baseDelay) < 0) {
      throw new IllegalArgumentException("maxDelay: " + maxDelay + " (expected: >= baseDelay " + baseDelay + ")");
    }
    if (!(multiplier >= 1.0)) {
      throw new IllegalArgumentException("multiplier: " + multiplier + " (expected: >= 1)");
    }
  }

  /** The server's defaults: 5 retries, 1 s doubling up to 32 s. */
  public static RetryPolicy defaults() {
    return new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(32), 2.0);
  }

  /** The policy a server advertises (SyncWelcome, GetStatusResponse). */
  public static RetryPolicy from(io.deltasync.v1.RetryPolicy advertised) {
    return new RetryPolicy(advertised.getMaxRetries(),
        Duration.ofSeconds(advertised.getBaseDelay().getSeconds(), advertised.getBaseDelay().getNanos()),
        Duration.ofSeconds(advertised.getMaxDelay().getSeconds(), advertised.getMaxDelay().getNanos()),
        advertised.getBackoffMultiplier());
  }

  /** The upper bound of the delay before retry {@code retry} (1-based). */
  public Duration cap(int retry) {
    if (retry < 1) {
      throw new IllegalArgumentException("retry: " + retry + " (expected: >= 1)");
    }
    double nanos = baseDelay.toNanos() * Math.pow(multiplier, retry - 1);
    return nanos >= maxDelay.toNanos() ? maxDelay : Duration.ofNanos((long) nanos);
  }

  /** A delay drawn uniformly from [0, cap(retry)]. */
  public Duration delay(int retry, RandomGenerator random) {
    long cap = cap(retry).toNanos();
    return Duration.ofNanos(random.nextLong(cap + 1));
  }
}

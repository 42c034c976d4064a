package io.deltasync.sdk;

import io.deltasync.client.RetryPolicy;
import java.time.Duration;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * Consecutive failures of one kind (reconnects, or pushes answered "not now") and the delay before the next try:
 * exponential with full jitter, from {@link RetryPolicy} (1 s doubling to 32 s by default, or what the server's
 * welcome advertises). Past {@code maxRetries} it either gives up (empty) or keeps retrying at the largest cap,
 * which suits an offline-first app that must come back whenever the network does.
 */
final class Backoff {
  private final RandomGenerator random;
  private final boolean giveUp;
  private RetryPolicy policy;
  private int failures;

  Backoff(RetryPolicy policy, RandomGenerator random, boolean giveUp) {
    this.policy = policy;
    this.random = random;
    this.giveUp = giveUp;
  }

  void policy(RetryPolicy newPolicy) {
    this.policy = newPolicy;
  }

  RetryPolicy policy() {
    return policy;
  }

  /** The delay before the next try, or empty to give up. */
  Optional<Duration> nextDelay() {
    failures++;
    if (failures > policy.maxRetries()) {
      if (giveUp) {
        return Optional.empty();
      }
      return Optional.of(policy.delay(capRetry(), random));
    }
    return Optional.of(policy.delay(failures, random));
  }

  /** The retry whose cap is the largest (the cap stops growing at maxDelay). */
  private int capRetry() {
    int retry = 1;
    while (retry < 64 && policy.cap(retry).compareTo(policy.maxDelay()) < 0) {
      retry++;
    }
    return retry;
  }

  int failures() {
    return failures;
  }

  void reset() {
    failures = 0;
  }
}

package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.client.RetryPolicy;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private static final long SEED = 20261201L;

  @Test
  void fullJitterUnderCapsDoublingFromOneToThirtyTwoSeconds() {
    RetryPolicy policy = RetryPolicy.defaults();
    assertThat(java.util.stream.IntStream.rangeClosed(1, 7).mapToObj(policy::cap))
        .containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(8),
            Duration.ofSeconds(16), Duration.ofSeconds(32), Duration.ofSeconds(32));
    SplittableRandom random = new SplittableRandom(SEED);
    long below = 0;
    long above = 0;
    for (int i = 0; i < 2_000; i++) {
      Duration delay = policy.delay(6, random);
      assertThat(delay).as("seed " + SEED).isBetween(Duration.ZERO, Duration.ofSeconds(32));
      below += delay.compareTo(Duration.ofSeconds(8)) < 0 ? 1 : 0;
      above += delay.compareTo(Duration.ofSeconds(24)) > 0 ? 1 : 0;
    }
    // Full jitter spreads over the whole [0, cap], not just near the cap.
    assertThat(below).as("seed " + SEED).isGreaterThan(300);
    assertThat(above).as("seed " + SEED).isGreaterThan(300);
  }

  @Test
  void givesUpAfterMaxRetriesOnlyWhenAsked() {
    RetryPolicy policy = new RetryPolicy(3, Duration.ofSeconds(1), Duration.ofSeconds(4), 2.0);
    Backoff giving = new Backoff(policy, new SplittableRandom(SEED), true);
    assertThat(giving.nextDelay()).isPresent();
    assertThat(giving.nextDelay()).isPresent();
    assertThat(giving.nextDelay()).isPresent();
    assertThat(giving.nextDelay()).isEmpty();
    giving.reset();
    assertThat(giving.nextDelay()).isPresent();

    Backoff keeping = new Backoff(policy, new SplittableRandom(SEED), false);
    for (int i = 1; i <= 20; i++) {
      assertThat(keeping.nextDelay()).get().satisfies(d -> assertThat(d).isBetween(Duration.ZERO,
          Duration.ofSeconds(4)));
    }
  }

  @Test
  void theJitterReachesBothEndsOfEachCapAndNeverPassesThem() {
    RetryPolicy policy = RetryPolicy.defaults();
    Backoff lowest = new Backoff(policy, fixed(false), false);
    Backoff highest = new Backoff(policy, fixed(true), false);
    long[] caps = {1, 2, 4, 8, 16, 32, 32, 32};
    for (long cap : caps) {
      assertThat(lowest.nextDelay()).contains(Duration.ZERO);
      assertThat(highest.nextDelay()).contains(Duration.ofSeconds(cap));
    }
  }

  /** A random source that always draws the smallest or the largest value. */
  private static java.util.random.RandomGenerator fixed(boolean largest) {
    return new java.util.random.RandomGenerator() {
      @Override
      public long nextLong() {
        throw new UnsupportedOperationException();
      }

      @Override
      public long nextLong(long bound) {
        return largest ? bound - 1 : 0;
      }
    };
  }
}

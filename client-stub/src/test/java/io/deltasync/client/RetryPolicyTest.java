package io.deltasync.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {
  private final RetryPolicy defaults = RetryPolicy.defaults();

  @Test
  void capsDoubleFromTheBaseDelayUpToTheMaximum() {
    assertThat(java.util.stream.IntStream.rangeClosed(1, 8).mapToObj(defaults::cap).map(Duration::toSeconds))
        .containsExactly(1L, 2L, 4L, 8L, 16L, 32L, 32L, 32L);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1L, 42L, 20261125L})
  void delaysAreFullJitterBetweenZeroAndTheCap(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    for (int retry = 1; retry <= 6; retry++) {
      Duration cap = defaults.cap(retry);
      Duration min = cap;
      Duration max = Duration.ZERO;
      for (int i = 0; i < 2_000; i++) {
        Duration delay = defaults.delay(retry, random);
        assertThat(delay).as("seed %d retry %d", seed, retry).isBetween(Duration.ZERO, cap);
        min = delay.compareTo(min) < 0 ? delay : min;
        max = delay.compareTo(max) > 0 ? delay : max;
      }
      // Full jitter spreads over the whole range, not a fixed schedule: both ends are reached.
      assertThat(min).as("seed %d retry %d", seed, retry).isLessThan(cap.dividedBy(10));
      assertThat(max).as("seed %d retry %d", seed, retry).isGreaterThan(cap.multipliedBy(9).dividedBy(10));
    }
  }

  @Test
  void rejectsNonsense() {
    assertThatThrownBy(() -> new RetryPolicy(-1, Duration.ofSeconds(1), Duration.ofSeconds(2), 2))
        .hasMessage("maxRetries: -1 (expected: >= 0)");
    assertThatThrownBy(() -> new RetryPolicy(1, Duration.ofSeconds(3), Duration.ofSeconds(2), 2))
        .hasMessageStartingWith("maxDelay: PT2S (expected: >= baseDelay PT3S)");
    assertThatThrownBy(() -> new RetryPolicy(1, Duration.ofSeconds(1), Duration.ofSeconds(2), 0.5))
        .hasMessage("multiplier: 0.5 (expected: >= 1)");
  }
}

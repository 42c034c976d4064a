package io.deltasync.server.ot;

import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.LongStream;

/**
 * Seeds and sizes of the property tests. Each run uses three fixed seeds plus one fresh seed, so every run explores
 * new cases while the fixed ones guard against regressions. To reproduce a failure, pass the seed printed in its
 * message: {@code ./mvnw -B -o test -pl server -Dtest='io.deltasync.server.ot.*Test' -Ddeltasync.ot.seed=<seed>}; to
 * search harder, raise {@code -Ddeltasync.ot.iterations} (default {@value #DEFAULT_ITERATIONS} cases per seed).
 */
final class Seeds {
  static final int DEFAULT_ITERATIONS = 2000;
  private static final long FRESH = ThreadLocalRandom.current().nextLong();

  private Seeds() {}

  /** The seeds to run: only the one given with {@code -Ddeltasync.ot.seed}, else the fixed ones and a fresh one. */
  static LongStream seeds() {
    String given = System.getProperty("deltasync.ot.seed");
    if (given != null && !given.isBlank()) {
      return LongStream.of(Long.parseLong(given.trim()));
    }
    return LongStream.of(1L, 2L, 3L, FRESH);
  }

  /** Cases per seed. */
  static int iterations() {
    return Integer.getInteger("deltasync.ot.iterations", DEFAULT_ITERATIONS);
  }

  /** The seed of case {@code index} of a run, so that one case can be replayed without the ones before it. */
  static long caseSeed(long seed, int index) {
    long mixed = seed * 0x9E3779B97F4A7C15L + index;
    mixed = (mixed ^ (mixed >>> 33)) * 0xFF51AFD7ED558CCDL;
    return mixed ^ (mixed >>> 33);
  }
}

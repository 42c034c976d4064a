package io.deltasync.server.ops;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link Cleanup} every interval on every node; the advisory lock lets one node at a time do the work, the
 * others skip that round. The first run waits a random part of the interval, so that nodes started together do
 * not all try at once.
 */
public final class CleanupSchedule implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CleanupSchedule.class);
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("deltasync-cleanup").daemon().factory());

  /** Starts the schedule; an interval of zero schedules nothing. */
  public CleanupSchedule(Cleanup cleanup, Duration interval) {
    if (interval.isZero()) {
      return;
    }
    long period = interval.toMillis();
    timer.scheduleAtFixedRate(() -> {
      try {
        Cleanup.Report report = cleanup.run(false);
        if (!report.ran()) {
          log.debug("Clean-up skipped: another node is running it");
        }
      } catch (RuntimeException e) {
        // A periodic task that throws is never run again: log, and try at the next interval.
        log.warn("Clean-up failed; trying again in {} min: {}", interval.toMinutes(), e.toString());
      }
    }, ThreadLocalRandom.current().nextLong(period / 2, period + 1), period, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}

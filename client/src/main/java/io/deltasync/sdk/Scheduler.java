package io.deltasync.sdk;

import java.time.Duration;

/**
 * Runs a task after a delay: reconnect backoff, push retries, heartbeats. The SDK uses a single-thread
 * scheduled executor; tests inject one that records the delays and runs tasks on demand, so schedules are checked
 * without sleeping.
 */
@FunctionalInterface
public interface Scheduler {
  /** Schedules {@code task} after {@code delay}; the returned handle cancels it. */
  Cancellable schedule(Duration delay, Runnable task);

  /** A scheduled task. */
  @FunctionalInterface
  interface Cancellable {
    /** Cancels the task if it has not run. */
    void cancel();
  }
}

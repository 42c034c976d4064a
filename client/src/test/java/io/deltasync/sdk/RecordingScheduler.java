package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

/** A scheduler that records every delay and runs a task only when the test says so: schedules without sleeping. */
final class RecordingScheduler implements Scheduler {
  /** One scheduled task. */
  record Task(Duration delay, Runnable run, AtomicBoolean cancelled) {}

  private final LinkedBlockingQueue<Task> tasks = new LinkedBlockingQueue<>();

  @Override
  public Cancellable schedule(Duration delay, Runnable task) {
    Task scheduled = new Task(delay, task, new AtomicBoolean());
    tasks.add(scheduled);
    return () -> scheduled.cancelled().set(true);
  }

  /** The next task {@code wanted} accepts that is not cancelled (others are dropped). */
  Task next(Predicate<Task> wanted) throws InterruptedException {
    while (true) {
      Task task = tasks.poll(60, TimeUnit.SECONDS);
      assertThat(task).as("a scheduled task").isNotNull();
      if (!task.cancelled().get() && wanted.test(task)) {
        return task;
      }
    }
  }

  /** Whether no task is waiting. */
  boolean isEmpty() {
    return tasks.isEmpty();
  }
}

package io.deltasync.server.stream;

import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One database read of a stream started ahead of its use: the next catch-up or initial-state page is read while the
 * previous one is serialized and sent, so the round trip to the database is off the stream's critical path.
 *
 * <p>A stream has at most one read ahead, and its delivery thread does not read while it runs ({@link #take} waits
 * for it even when its result is not the one wanted), so a stream still holds at most one pooled connection at a
 * time. The read runs on a virtual thread of its own and takes its connection from the same pool as every other
 * read. {@link #discard} never interrupts it (an interrupted JDBC read would close a pooled connection): a read
 * whose stream ended or went live finishes and its page is dropped.
 *
 * @param <K> where the read starts (a change-log position, or an initial-state key)
 * @param <T> what it returns
 */
final class ReadAhead<K, T> {
  private static final ExecutorService READERS = Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("deltasync-read-ahead-", 0).factory());

  // Since start, for tests and diagnostics: reads started ahead, used, and dropped (stream ended, went live, moved).
  private static final AtomicLong STARTED = new AtomicLong();
  private static final AtomicLong USED = new AtomicLong();
  private static final AtomicLong DROPPED = new AtomicLong();
  // Reads under way now (each holds a pooled connection while it runs).
  private static final AtomicLong RUNNING = new AtomicLong();

  private final K from;
  private final Future<T> result;

  private ReadAhead(K from, Future<T> result) {
    this.from = from;
    this.result = result;
  }

  /** Starts {@code read}, which reads the page that starts at {@code from}. */
  static <K, T> ReadAhead<K, T> start(K from, Callable<T> read) {
    STARTED.incrementAndGet();
    return new ReadAhead<>(from, READERS.submit(() -> {
      RUNNING.incrementAndGet();
      try {
        return read.call();
      } finally {
        RUNNING.decrementAndGet();
      }
    }));
  }

  /** Reads ahead under way now. */
  static long running() {
    return RUNNING.get();
  }

  /**
   * The page read ahead if it starts at {@code wanted}; null if it starts elsewhere (the stream moved meanwhile),
   * once the read is over. A failed read throws what it threw.
   */
  T take(K wanted) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          T page = result.get();
          if (from.equals(wanted)) {
            USED.incrementAndGet();
            return page;
          }
          DROPPED.incrementAndGet();
          return null;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (CancellationException e) {
          return null;
        } catch (ExecutionException e) {
          if (!from.equals(wanted)) {
            DROPPED.incrementAndGet();
            return null;
          }
          if (e.getCause() instanceof RuntimeException runtime) {
            throw runtime;
          }
          if (e.getCause() instanceof Error error) {
            throw error;
          }
          throw new IllegalStateException(e.getCause());
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The stream will not use this page (it ended or went live): the read finishes and its result is dropped. */
  void discard() {
    result.cancel(false);
    DROPPED.incrementAndGet();
  }

  /** Reads started ahead since start. */
  static long started() {
    return STARTED.get();
  }

  /** Reads ahead whose page was sent. */
  static long used() {
    return USED.get();
  }

  /** Reads ahead whose page was dropped (the stream ended, went live, or moved elsewhere). */
  static long dropped() {
    return DROPPED.get();
  }

  /** Discards {@code ahead} if there is one; returns null (for {@code ahead = discard(ahead)}). */
  static <K, T> ReadAhead<K, T> discard(ReadAhead<K, T> ahead) {
    if (ahead != null) {
      ahead.discard();
    }
    return null;
  }
}

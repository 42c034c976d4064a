package io.deltasync.server.stream;

import io.deltasync.server.changefeed.LiveFeed;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import java.util.function.Consumer;

/**
 * How a live page reaches one stream: on the live feed's own thread when the stream is free, else on the stream's
 * own delivery thread, always in feed order.
 *
 * <p>Delivering a live page to a stream only filters it, queues it and writes what the transport takes (the
 * session's {@link OutboundQueue} never waits: a stream that is not ready keeps its messages queued, bounded, and
 * falls back to catch-up past its budget). Handing that to each stream's own thread costs more than the work itself
 * at a thousand streams (a virtual-thread start and a wake-up per stream and page: docs/performance.md, "Fifth pass:
 * fan-out"), so the feed's dispatcher does it itself when it can take the stream's lock at once and no earlier page
 * of this stream is still waiting on the stream's thread. Otherwise (the lock is busy: the client's own messages,
 * a drain, a tick) the page goes to the stream's thread as before, and so does every later page until those are
 * done: the dispatcher never waits for a stream, and a stream never gets a page before an earlier one.
 *
 * <p>gRPC's rule that one call's {@code onNext} runs on one thread at a time holds because every write to a stream
 * happens under the stream's lock, whichever thread holds it.
 */
final class LiveHandOff {
  private final Lock lock;
  private final Executor ownThread;
  private final Consumer<LiveFeed.Page> deliver;
  // Pages given to the stream's own thread and not delivered yet; incremented by the feed's one dispatching thread.
  private final AtomicInteger handedOff = new AtomicInteger();

  /**
   * @param lock the stream's lock: held while a page is delivered, whichever thread delivers it
   * @param ownThread the stream's own delivery thread (single-threaded, so pages given to it keep their order)
   * @param deliver delivers one page; runs under {@code lock} (it may take it again: a reentrant lock)
   */
  LiveHandOff(Lock lock, Executor ownThread, Consumer<LiveFeed.Page> deliver) {
    this.lock = lock;
    this.ownThread = ownThread;
    this.deliver = deliver;
  }

  /**
   * Delivers {@code page} now on the calling thread, or hands it to the stream's thread; never waits. Called by one
   * thread at a time (the live feed dispatches a page to all before the next; a stream's pages may come from
   * different fan-out threads, one after the other), in feed order. An exception of a direct delivery is
   * thrown to the caller (the feed drops the subscriber and tells it); one on the stream's thread goes to
   * {@code onFailure}.
   *
   * @return whether the page was delivered on the calling thread
   */
  boolean offer(LiveFeed.Page page, Consumer<Throwable> onFailure) {
    if (handedOff.get() == 0 && lock.tryLock()) {
      try {
        deliver.accept(page);
        return true;
      } finally {
        lock.unlock();
      }
    }
    handedOff.incrementAndGet();
    try {
      ownThread.execute(() -> {
        try {
          lock.lock();
          try {
            deliver.accept(page);
          } finally {
            lock.unlock();
          }
        } catch (Throwable e) {
          onFailure.accept(e);
        } finally {
          handedOff.decrementAndGet();
        }
      });
    } catch (RejectedExecutionException closed) {
      // the stream closed and is leaving the feed: nothing to deliver
      handedOff.decrementAndGet();
    }
    return false;
  }

  /** How many pages wait on the stream's own thread (for tests). */
  int handedOff() {
    return handedOff.get();
  }
}

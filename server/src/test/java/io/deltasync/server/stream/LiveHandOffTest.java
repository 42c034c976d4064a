package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.store.Position;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;

/**
 * The hand-off of live pages to one stream (no database: it only decides which thread delivers a page, and keeps
 * them in order). The stream's own thread is a queue the test runs by hand, so every interleaving is chosen here.
 */
class LiveHandOffTest {
  private final ReentrantLock lock = new ReentrantLock();
  private final ArrayDeque<Runnable> ownThread = new ArrayDeque<>();
  private final List<String> delivered = new ArrayList<>();
  private final List<Thread> deliveredOn = new ArrayList<>();
  private final List<Throwable> failures = new ArrayList<>();

  private final LiveHandOff handOff = new LiveHandOff(lock, ownThread::add, page -> {
    assertThat(lock.isHeldByCurrentThread()).as("delivered under the stream's lock").isTrue();
    delivered.add(page.toCursor());
    deliveredOn.add(Thread.currentThread());
  });

  private static LiveFeed.Page page(String name) {
    return new LiveFeed.Page(Position.START, Position.START, List.of(), name);
  }

  private void runOwnThread() {
    while (!ownThread.isEmpty()) {
      ownThread.poll().run();
    }
  }

  /** Holds the stream's lock on another thread (the client's own message, a drain) until the returned latch. */
  private CountDownLatch holdLockElsewhere() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<Void> held = new CompletableFuture<>();
    Thread.ofPlatform().start(() -> {
      lock.lock();
      try {
        held.complete(null);
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        lock.unlock();
      }
    });
    held.get();
    return release;
  }

  @Test
  void aFreeStreamGetsThePageOnTheCallingThread() {
    assertThat(handOff.offer(page("p1"), failures::add)).isTrue();
    assertThat(delivered).containsExactly("p1");
    assertThat(deliveredOn).containsExactly(Thread.currentThread());
    assertThat(ownThread).isEmpty();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void aBusyStreamGetsThePageOnItsOwnThreadWithoutTheCallerWaiting() throws Exception {
    CountDownLatch release = holdLockElsewhere();
    assertThat(handOff.offer(page("p1"), failures::add)).isFalse();  // returns although the lock is held
    assertThat(delivered).isEmpty();
    release.countDown();
    runOwnThread();
    assertThat(delivered).containsExactly("p1");
    assertThat(handOff.handedOff()).isZero();
  }

  @Test
  void twoPagesRacingForOneStreamArriveInFeedOrder() throws Exception {
    CountDownLatch release = holdLockElsewhere();
    assertThat(handOff.offer(page("p1"), failures::add)).isFalse();
    release.countDown();
    while (lock.isLocked()) {
      Thread.onSpinWait();
    }
    // The lock is free now, but p1 still waits on the stream's thread: p2 must not overtake it.
    assertThat(handOff.offer(page("p2"), failures::add)).isFalse();
    assertThat(delivered).isEmpty();
    runOwnThread();
    assertThat(delivered).containsExactly("p1", "p2");
    // Once the stream's thread has delivered everything handed to it, the next page goes direct again.
    assertThat(handOff.offer(page("p3"), failures::add)).isTrue();
    assertThat(delivered).containsExactly("p1", "p2", "p3");
  }

  @Test
  void aStreamThatEndedMeanwhileTakesNoPageAndLeavesNothingPending() throws Exception {
    Executor closed = task -> {
      throw new RejectedExecutionException("shut down");
    };
    LiveHandOff ended = new LiveHandOff(lock, closed, page -> delivered.add(page.toCursor()));
    CountDownLatch release = holdLockElsewhere();
    assertThat(ended.offer(page("p1"), failures::add)).isFalse();
    release.countDown();
    assertThat(ended.handedOff()).isZero();
    assertThat(delivered).isEmpty();
    assertThat(failures).isEmpty();
  }

  @Test
  void aFailingDirectDeliveryIsTheCallersToHandleAndReleasesTheLock() {
    LiveHandOff failing = new LiveHandOff(lock, ownThread::add, page -> {
      throw new IllegalStateException("broken");
    });
    assertThatThrownBy(() -> failing.offer(page("p1"), failures::add)).hasMessage("broken");
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void aFailureOnTheStreamsThreadIsReportedAndDoesNotBlockLaterPages() throws Exception {
    List<String> seen = new ArrayList<>();
    LiveHandOff failingOnce = new LiveHandOff(lock, ownThread::add, page -> {
      seen.add(page.toCursor());
      if (page.toCursor().equals("p1")) {
        throw new IllegalStateException("broken");
      }
    });
    CountDownLatch release = holdLockElsewhere();
    failingOnce.offer(page("p1"), failures::add);
    release.countDown();
    runOwnThread();
    assertThat(failures).extracting(Throwable::getMessage).containsExactly("broken");
    assertThat(failingOnce.handedOff()).isZero();
    assertThat(lock.isLocked()).isFalse();
    assertThat(failingOnce.offer(page("p2"), failures::add)).isTrue();
    assertThat(seen).containsExactly("p1", "p2");
  }
}

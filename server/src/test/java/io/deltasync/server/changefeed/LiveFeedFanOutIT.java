package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.TestPostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/**
 * A page handed to the subscribers by several fan-out threads (DELTASYNC_FANOUT_THREADS): each subscriber gets
 * every page, one at a time and in order, whichever thread brings it; a subscriber that leaves from inside its
 * {@code onPage} on a fan-out thread (a stream falling back to catch-up does) gets nothing more and does not
 * deadlock the feed, whose own thread holds the dispatch lock while it waits for the fan-out threads; one that
 * throws is dropped and told.
 */
class LiveFeedFanOutIT {
  private static final int SUBSCRIBERS = 300;
  private static final int CHANGES = 60;
  private static final int LEAVERS = 30;

  /** Records its pages and checks that no two arrive at once. */
  private static final class Recorder implements LiveFeed.Subscriber {
    final List<LiveFeed.Page> pages = new CopyOnWriteArrayList<>();
    final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    final AtomicBoolean inside = new AtomicBoolean();
    final AtomicInteger overlaps = new AtomicInteger();

    @Override
    public void onPage(LiveFeed.Page page) {
      if (!inside.compareAndSet(false, true)) {
        overlaps.incrementAndGet();
      }
      threads.add(Thread.currentThread());
      pages.add(page);
      inside.set(false);
    }

    int changes() {
      return pages.stream().mapToInt(p -> p.changes().size()).sum();
    }
  }

  @Test
  void everySubscriberGetsEveryPageInOrderAndOneLeavingOnAFanOutThreadDoesNotDeadlock() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    ChangeFeed changeFeed = new ChangeFeed(store, store.ensureEpoch());
    try (LiveFeed feed = new LiveFeed(changeFeed, store, () -> database.dataSource().getConnection(),
        Duration.ofMillis(50), 5, 3)) {
      Position readUpTo = store.visiblePosition();
      List<Recorder> recorders = new ArrayList<>();
      for (int i = 0; i < SUBSCRIBERS; i++) {
        recorders.add(new Recorder());
        assertThat(feed.join(recorders.getLast(), readUpTo, () -> true)).isTrue();
      }
      // Each leaves on its first page, from whichever thread brings it (so many that some are on fan-out threads:
      // the subscribers are split in the set's order, which the test does not choose).
      AtomicInteger leaverPages = new AtomicInteger();
      Set<Thread> leftOn = ConcurrentHashMap.newKeySet();
      for (int i = 0; i < LEAVERS; i++) {
        LiveFeed.Subscriber leaver = new LiveFeed.Subscriber() {
          @Override
          public void onPage(LiveFeed.Page page) {
            leaverPages.incrementAndGet();
            leftOn.add(Thread.currentThread());
            feed.leave(this);
          }
        };
        assertThat(feed.join(leaver, readUpTo, () -> true)).isTrue();
      }
      AtomicBoolean toldDropped = new AtomicBoolean();
      LiveFeed.Subscriber broken = new LiveFeed.Subscriber() {
        @Override
        public void onPage(LiveFeed.Page page) {
          throw new IllegalStateException("a bug in one subscriber");
        }

        @Override
        public void onDropped(Throwable cause) {
          toldDropped.set(true);
        }
      };
      assertThat(feed.join(broken, readUpTo, () -> true)).isTrue();

      for (int i = 0; i < CHANGES; i++) {
        sql.execute("insert into entity (scope, entity_type, entity_id) values ('s', 'note', 'n" + i + "')");
      }
      for (int i = 0; i < 600 && recorders.stream().anyMatch(r -> r.changes() < CHANGES); i++) {
        Thread.sleep(50);
      }

      Set<Thread> fanOutThreads = new java.util.HashSet<>();
      List<String> expected = recorders.getFirst().pages.stream().flatMap(p -> p.changes().stream())
          .map(c -> c.getEntity().getEntityId()).toList();
      assertThat(expected).hasSize(CHANGES);
      for (Recorder recorder : recorders) {
        assertThat(recorder.overlaps).hasValue(0);
        assertThat(recorder.pages.stream().flatMap(p -> p.changes().stream()).map(c -> c.getEntity().getEntityId())
            .toList()).isEqualTo(expected);
        for (int i = 1; i < recorder.pages.size(); i++) {
          assertThat(recorder.pages.get(i).from()).isEqualTo(recorder.pages.get(i - 1).to());
        }
        fanOutThreads.addAll(recorder.threads);
      }
      assertThat(fanOutThreads).as("the page was handed out by the feed's thread and its fan-out threads")
          .hasSize(3);
      assertThat(leaverPages).hasValue(LEAVERS);
      assertThat(leftOn).as("some left on a fan-out thread").hasSizeGreaterThan(1);
      assertThat(toldDropped).isTrue();
      assertThat(feed.isHealthy(Duration.ofSeconds(30))).isTrue();
    }
  }
}

package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.TestPostgres;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/** The live feed's promises, checked directly: no join across a gap, and pages that follow on one another. */
class LiveFeedIT {
  @Test
  void joinRefusesASubscriberWhoseReadEndsBeforeTheFeedAndPagesAreContiguous() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    ChangeFeed changeFeed = new ChangeFeed(store, store.ensureEpoch());
    List<LiveFeed.Page> pages = new CopyOnWriteArrayList<>();
    try (LiveFeed feed = new LiveFeed(changeFeed, store, () -> database.dataSource().getConnection(),
        Duration.ofMillis(50), 3)) {
      AtomicBoolean joined = new AtomicBoolean();
      assertThat(feed.join(pages::add, Position.START, () -> { joined.set(true); return true; }))
          .as("a subscriber that read nothing cannot join a feed that already moved on").isFalse();
      assertThat(joined).isFalse();

      Position readUpTo = store.visiblePosition();
      assertThat(feed.join(pages::add, readUpTo, () -> { joined.set(true); return true; })).isTrue();
      assertThat(joined).isTrue();

      for (int i = 0; i < 10; i++) {
        sql.execute("insert into entity (scope, entity_type, entity_id) values ('s', 'note', 'n" + i + "')");
      }
      for (int i = 0; i < 200 && pages.stream().mapToInt(p -> p.changes().size()).sum() < 10; i++) {
        Thread.sleep(50);
      }
      assertThat(pages.stream().flatMap(p -> p.changes().stream()).map(c -> c.getEntity().getEntityId()))
          .containsExactly("n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9");
      assertThat(pages).allSatisfy(p -> assertThat(p.changes().size()).isLessThanOrEqualTo(3));
      for (int i = 1; i < pages.size(); i++) {
        assertThat(pages.get(i).from()).as("page %d starts where page %d ended", i, i - 1)
            .isEqualTo(pages.get(i - 1).to());
      }
      assertThat(pages.getFirst().from()).isLessThanOrEqualTo(readUpTo);
    }
  }

  /** A subscriber that throws, even an Error, is dropped and told; the feed goes on for everyone else. */
  @Test
  void aFailingSubscriberIsDroppedAndToldWhileTheOthersKeepReceiving() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    ChangeFeed changeFeed = new ChangeFeed(store, store.ensureEpoch());
    List<LiveFeed.Page> pages = new CopyOnWriteArrayList<>();
    java.util.concurrent.CompletableFuture<Throwable> dropped = new java.util.concurrent.CompletableFuture<>();
    LiveFeed.Subscriber broken = new LiveFeed.Subscriber() {
      @Override
      public void onPage(LiveFeed.Page page) {
        throw new AssertionError("a bug in one subscriber");
      }

      @Override
      public void onDropped(Throwable cause) {
        dropped.complete(cause);
      }
    };
    try (LiveFeed feed = new LiveFeed(changeFeed, store, () -> database.dataSource().getConnection(),
        Duration.ofMillis(50), 3)) {
      Position readUpTo = store.visiblePosition();
      assertThat(feed.join(broken, readUpTo, () -> true)).isTrue();
      assertThat(feed.join(pages::add, readUpTo, () -> true)).isTrue();
      sql.execute("insert into entity (scope, entity_type, entity_id) values ('s', 'note', 'first')");
      assertThat(dropped.get(30, java.util.concurrent.TimeUnit.SECONDS)).isInstanceOf(AssertionError.class);
      sql.execute("insert into entity (scope, entity_type, entity_id) values ('s', 'note', 'second')");
      for (int i = 0; i < 600 && pages.stream().mapToInt(p -> p.changes().size()).sum() < 2; i++) {
        Thread.sleep(50);
      }
      assertThat(pages.stream().flatMap(p -> p.changes().stream()).map(c -> c.getEntity().getEntityId()))
          .containsExactly("first", "second");
      assertThat(feed.isHealthy(Duration.ofSeconds(30))).isTrue();
    }
  }
}

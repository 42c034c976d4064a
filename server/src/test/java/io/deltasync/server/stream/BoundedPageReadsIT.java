package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.StreamPages;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * At a jump from small rows to large documents, a catching-up stream and a stream downloading the initial state read
 * a page's budget of large documents, not the row count the small rows suggested (up to the live buffer's row count):
 * the reads are bounded by bytes in the query. Observed from the readers' own counters (the store's estimated bytes
 * per read, the page sizer's serialized bytes per read), not from the heap, which the suite's shared JVM blurs. The
 * streams receive exactly the log, or the state, in order, and resume exactly from every page's cursor.
 */
class BoundedPageReadsIT {
  private static final int BUDGET = 32 * 1024;
  private static final int QUEUE_CHANGES = 20;
  private static final String SCOPE = "jump";
  private static final Subscription ALL = Subscription.newBuilder().addScopes(SCOPE).build();

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withStreamPages(new StreamPages(BUDGET))
      .withStream(new ServerConfig.Stream(Duration.ofSeconds(30), QUEUE_CHANGES, Duration.ofMillis(100))));

  private static void write(String prefix, int count, int bytes, int perPush) {
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batch.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId(String.format("%s-%05d", prefix, i)).setScope(SCOPE).setOperation(Operation.OPERATION_CREATE)
          .setData(Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(bytes))
              .build())).build());
      if (batch.size() == perPush || i == count - 1) {
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(batch).build());
        batch.clear();
      }
    }
  }

  @BeforeAll
  static void smallThenLargeThenSmall() {
    write("a", 300, 10, 200);
    write("b", 40, 150_000, 8);
    write("c", 300, 10, 200);
  }

  private static String start() {
    return Cursor.start(server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class)).encode();
  }

  private static void assertWithinBudget(List<SyncChanges> pages) {
    for (SyncChanges page : pages) {
      assertThat(page.getChangesCount()).isLessThanOrEqualTo(QUEUE_CHANGES * ChangeDelivery.READ_PAGE_ROWS_PER_QUEUED_CHANGE);
      if (page.getChangesCount() > 1) {
        long bytes = 0;
        for (Change change : page.getChangesList()) {
          bytes += change.getSerializedSize() + MessageBudget.FRAMING_BYTES;
        }
        assertThat(bytes).isLessThanOrEqualTo(BUDGET);
      }
    }
  }

  @Test
  void catchUpAtASizeJumpReadsABudgetOfLargeDocuments() {
    List<String> expected = server.sql().fetch("select entity_id from change_log where scope = ? order by tx_id, "
        + "change_id", SCOPE).getValues(0, String.class);
    SyncStore.BoundedReadStats storeBefore = SyncStore.boundedReadStats();
    long overBefore = PageSizer.readsOverTwiceBudget();
    long readsBefore = PageSizer.reads();

    List<SyncChanges> pages;
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("catching-up", start(), ALL);
      pages = client.pagesUntilLive();
      client.assertOpen();
    }
    assertThat(StreamClient.entityIds(pages)).containsExactlyElementsOf(expected);
    List<SyncChanges> caughtUp = pages.stream().filter(p -> p.getPhase() == SyncPhase.SYNC_PHASE_CATCH_UP).toList();
    assertWithinBudget(caughtUp);
    assertThat(caughtUp.stream().mapToInt(SyncChanges::getChangesCount).max().orElseThrow())
        .as("small rows: pages of the row cap").isEqualTo(QUEUE_CHANGES * ChangeDelivery.READ_PAGE_ROWS_PER_QUEUED_CHANGE);
    assertThat(PageSizer.reads() - readsBefore).as("reads").isGreaterThan(40);
    assertThat(PageSizer.readsOverTwiceBudget() - overBefore).as("reads of large documents beyond the budget")
        .isZero();
    assertThat(SyncStore.boundedReadStats().multiRowReadsOverBudget() - storeBefore.multiRowReadsOverBudget())
        .isZero();

    // Every page's cursor resumes exactly after that page.
    int upTo = 0;
    for (SyncChanges page : caughtUp) {
      upTo += page.getChangesCount();
      try (StreamClient resumed = new StreamClient(server.channel())) {
        resumed.hello("resume-" + UUID.randomUUID(), page.getCursor(), ALL);
        assertThat(StreamClient.entityIds(resumed.pagesUntilLive())).as("resumed after change %d", upTo)
            .containsExactlyElementsOf(expected.subList(upTo, expected.size()));
      }
    }
  }

  @Test
  void initialStateAtASizeJumpReadsABudgetOfLargeDocuments() {
    List<String> expected = server.sql().fetch("select entity_id from entity where scope = ? and not is_deleted "
        + "order by scope, entity_type, entity_id", SCOPE).getValues(0, String.class);
    SyncStore.BoundedReadStats storeBefore = SyncStore.boundedReadStats();
    long overBefore = PageSizer.readsOverTwiceBudget();

    List<SyncChanges> pages;
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("new-device", "", ALL);
      pages = client.pagesUntilLive();
      client.assertOpen();
    }
    List<SyncChanges> state = pages.stream().filter(p -> p.getPhase() == SyncPhase.SYNC_PHASE_INITIAL_STATE)
        .toList();
    assertThat(StreamClient.entityIds(state)).containsExactlyElementsOf(expected);
    assertWithinBudget(state);
    assertThat(PageSizer.readsOverTwiceBudget() - overBefore).as("reads of large documents beyond the budget")
        .isZero();
    assertThat(SyncStore.boundedReadStats().multiRowReadsOverBudget() - storeBefore.multiRowReadsOverBudget())
        .isZero();
  }
}

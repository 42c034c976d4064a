package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.StreamPages;
import io.deltasync.server.changefeed.Cursor;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Catch-up reads the next page while the previous one is sent ({@link ReadAhead}), its pages within the page's byte
 * budget and the changes a live stream buffers. Nothing is skipped or repeated at a
 * page boundary: with writes committing during the catch-up, with a degraded change in the log, from every page's
 * cursor; a stream that ends while a page is read ahead leaves nothing behind that stops the next one.
 */
class CatchUpReadAheadIT {
  private static final int BUDGET = 32 * 1024;
  private static final int QUEUE_CHANGES = 20;
  private static final String SCOPE = "ahead";
  private static final Subscription ALL = Subscription.newBuilder().addScopes(SCOPE).build();

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withStreamPages(new StreamPages(BUDGET))
      .withStream(new ServerConfig.Stream(Duration.ofSeconds(15), QUEUE_CHANGES, Duration.ofMillis(100))));

  private static void write(String prefix, int count, int bytes) {
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batch.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId(String.format("%s-%05d", prefix, i)).setScope(SCOPE).setOperation(Operation.OPERATION_CREATE)
          .setData(Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(bytes))
              .build())).build());
      if (batch.size() == 200 || i == count - 1) {
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(batch).build());
        batch.clear();
      }
    }
  }

  private static String start() {
    return Cursor.start(server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class)).encode();
  }

  /** Every entity id of the scope in commit order, as the change log holds them. */
  private static List<String> logged() {
    return server.sql().fetch("select entity_id from change_log where scope = ? order by tx_id, change_id", SCOPE)
        .getValues(0, String.class);
  }

  private static long bytesOf(SyncChanges page) {
    long bytes = 0;
    for (Change change : page.getChangesList()) {
      bytes += change.getSerializedSize() + MessageBudget.FRAMING_BYTES;
    }
    return bytes;
  }

  @Test
  void readAheadSkipsAndRepeatsNothingWithWritesDuringCatchUpAndADegradedChange() {
    write("a", 1_500, 600);
    // A row the server cannot carry (nested deeper than it converts), written as plain SQL could before the
    // document guards: delivered degraded in its place, the pages around it go on.
    server.sql().execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_data_fits");
    server.sql().execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES (?, 'note', 'deep', "
        + "(repeat('{\"n\": ', 199) || '{}' || repeat('}', 199))::jsonb)", SCOPE);
    write("b", 1_500, 600);
    long usedBefore = ReadAhead.used();

    List<SyncChanges> pages;
    try (StreamClient client = new StreamClient(server.channel(), false)) {
      client.hello("late", start(), ALL);
      // The client reads nothing yet: the stream sends what the transport takes, and waits with a page read ahead.
      // Writes commit meanwhile, then the client reads everything.
      write("c", 1_000, 600);
      client.startReading();
      pages = client.pagesUntilLive();
      client.assertOpen();
    }
    List<String> expected = logged();
    assertThat(expected).hasSizeGreaterThanOrEqualTo(4_001);
    List<SyncChanges> caughtUp = pages.stream().filter(p -> p.getPhase() == SyncPhase.SYNC_PHASE_CATCH_UP).toList();
    assertThat(StreamClient.entityIds(pages)).containsExactlyElementsOf(expected);
    assertThat(pages.stream().flatMap(p -> p.getChangesList().stream())
        .filter(c -> c.getEntity().getEntityId().equals("deep")).findFirst().orElseThrow().hasDegraded()).isTrue();
    assertThat(ReadAhead.used() - usedBefore).as("pages read ahead and sent").isGreaterThan(5);

    // Pages: within the byte budget (the memory bound) and the live buffer's changes.
    for (SyncChanges page : caughtUp) {
      assertThat(page.getChangesCount()).isLessThanOrEqualTo(QUEUE_CHANGES * ChangeDelivery.READ_PAGE_ROWS_PER_QUEUED_CHANGE);
      if (page.getChangesCount() > 1) {
        assertThat(bytesOf(page)).isLessThanOrEqualTo(BUDGET);
      }
    }

    // Every page's cursor resumes exactly after that page: the first page a stream resumed there receives is the
    // log right after it (nothing skipped or repeated at the seam; the rest of the log after a cursor is what the
    // stream above received whole). The last pages are followed to the live switch.
    int upTo = 0;
    for (SyncChanges page : caughtUp) {
      upTo += page.getChangesCount();
      try (StreamClient resumed = new StreamClient(server.channel())) {
        resumed.hello("resume-" + UUID.randomUUID(), page.getCursor(), ALL);
        if (expected.size() - upTo <= 2 * QUEUE_CHANGES) {
          assertThat(StreamClient.entityIds(resumed.pagesUntilLive())).as("resumed after change %d", upTo)
              .containsExactlyElementsOf(expected.subList(upTo, expected.size()));
        } else {
          List<String> first = StreamClient.entityIds(List.of(resumed.await(m -> m.hasChanges() && m.getChanges().getChangesCount() > 0,
              "the first page after the cursor").getChanges()));
          assertThat(first).as("resumed after change %d", upTo)
              .isNotEmpty().containsExactlyElementsOf(expected.subList(upTo, upTo + first.size()));
        }
      }
    }
  }

  @Test
  void aStreamEndingWhileAPageIsReadAheadLeavesTheNextStreamWhole() throws InterruptedException {
    write("d", 3_000, 1_000);
    long droppedBefore = ReadAhead.dropped();
    for (int i = 0; i < 3; i++) {
      try (StreamClient stalled = new StreamClient(server.channel(), false)) {
        stalled.hello("gone-" + i, start(), ALL);
        // Until its page is read ahead and the stream waits for a client that reads nothing.
        for (int wait = 0; wait < 600 && ReadAhead.dropped() == droppedBefore && !waitingWithAPageAhead(); wait++) {
          Thread.sleep(50);
        }
      }
    }
    for (int wait = 0; wait < 600 && ReadAhead.dropped() == droppedBefore; wait++) {
      Thread.sleep(50);
    }
    assertThat(ReadAhead.dropped()).as("pages read ahead for ended streams, dropped").isGreaterThan(droppedBefore);

    try (StreamClient next = new StreamClient(server.channel())) {
      next.hello("next", start(), ALL);
      assertThat(StreamClient.entityIds(next.pagesUntilLive())).containsExactlyElementsOf(logged());
    }
  }

  /**
   * A client that stops reading at a jump from small rows to large documents: its stream holds at most one page read
   * ahead, that page within the byte budget (the read is bounded by bytes in the query), and no read under way (no
   * pooled connection) while it waits; once the client reads again, it receives exactly the log.
   */
  @Test
  void aStalledStreamAtASizeJumpHoldsOnePageAheadWithinTheBudgetAndNoConnection() throws InterruptedException {
    String scope = "stalled";
    Subscription sub = Subscription.newBuilder().addScopes(scope).build();
    writeTo(scope, "s", 300, 10);
    writeTo(scope, "l", 60, 150_000);
    List<String> expected = server.sql().fetch("select entity_id from change_log where scope = ? order by tx_id, "
        + "change_id", scope).getValues(0, String.class);
    long overBefore = PageSizer.readsOverTwiceBudget();
    long storeOverBefore = io.deltasync.server.store.SyncStore.boundedReadStats().multiRowReadsOverBudget();
    try (StreamClient stalled = new StreamClient(server.channel(), false)) {
      stalled.hello("stalled", start(), sub);
      // Until the stream waits with its next page read ahead (its client reads nothing: the transport fills).
      for (int wait = 0; wait < 1_200 && !(waitingWithAPageAhead() && ReadAhead.running() == 0); wait++) {
        Thread.sleep(50);
      }
      assertThat(ReadAhead.started() - ReadAhead.used() - ReadAhead.dropped()).as("pages read ahead, not sent")
          .isEqualTo(1);
      assertThat(ReadAhead.running()).as("reads under way while stalled").isZero();
      stalled.startReading();
      List<SyncChanges> pages = stalled.pagesUntilLive();
      assertThat(StreamClient.entityIds(pages)).containsExactlyElementsOf(expected);
    }
    assertThat(PageSizer.readsOverTwiceBudget() - overBefore).as("reads beyond twice the budget").isZero();
    assertThat(io.deltasync.server.store.SyncStore.boundedReadStats().multiRowReadsOverBudget() - storeOverBefore)
        .isZero();
  }

  private static void writeTo(String scope, String prefix, int count, int bytes) {
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batch.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId(String.format("%s-%05d", prefix, i)).setScope(scope).setOperation(Operation.OPERATION_CREATE)
          .setData(Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(bytes))
              .build())).build());
      if (batch.size() == 8 || i == count - 1) {
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(batch).build());
        batch.clear();
      }
    }
  }

  private static boolean waitingWithAPageAhead() {
    return ReadAhead.started() > ReadAhead.used() + ReadAhead.dropped();
  }
}

package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.StreamPages;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Pages on the Sync stream are sized by bytes (DELTASYNC_STREAM_PAGE_BYTES), not by SYNC_BATCH_SIZE: the initial
 * state and catch-up send pages that hold as many changes as the byte budget allows, never more bytes than the
 * budget except a page of one change larger than it, and nothing is skipped or repeated at a page boundary; every
 * cursor handed out resumes exactly after what it covers. Pull keeps SYNC_BATCH_SIZE as its page.
 */
class StreamPagesIT {
  private static final int BUDGET = 32 * 1024;
  private static final int ENTITIES = 700;
  private static final String SCOPE = "pages";

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(
      config -> config.withStreamPages(new StreamPages(BUDGET)));

  private static Delta create(String id, int bytes) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope(SCOPE).setOperation(Operation.OPERATION_CREATE).setData(Struct.newBuilder()
            .putFields("text", Value.newBuilder().setStringValue("x".repeat(bytes)).build())).build();
  }

  /** Sizes from 10 to 310 bytes (seeded), and three documents larger than the whole budget. */
  private static List<String> seed() {
    long seed = 15L;
    Random random = new Random(seed);
    List<String> ids = new ArrayList<>();
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < ENTITIES; i++) {
      String id = String.format("e%04d", i);
      int bytes = i == 100 || i == 101 || i == 400 ? 48 * 1024 : 10 + random.nextInt(300);
      batch.add(create(id, bytes));
      ids.add(id);
      if (batch.size() == 200) {
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(batch).build());
        batch.clear();
      }
    }
    server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(batch).build());
    return ids;
  }

  private static long bytesOf(SyncChanges page) {
    long bytes = 0;
    for (Change change : page.getChangesList()) {
      bytes += change.getSerializedSize() + MessageBudget.FRAMING_BYTES;
    }
    return bytes;
  }

  private static void assertWithinBudget(List<SyncChanges> pages) {
    for (SyncChanges page : pages) {
      if (page.getChangesCount() > 1) {
        assertThat(bytesOf(page)).as("bytes of a page of %d changes", page.getChangesCount())
            .isLessThanOrEqualTo(BUDGET);
      }
    }
  }

  /**
   * The budget is filled, not a row count: on average the pages (but the last) hold at least half the budget. Each
   * read asks for as many rows as the budget holds at the sizes just seen, so a page falls short only when its rows
   * are smaller than the previous read's.
   */
  private static void assertFilled(List<SyncChanges> pages) {
    long bytes = 0;
    for (SyncChanges page : pages.subList(0, pages.size() - 1)) {
      bytes += bytesOf(page);
    }
    assertThat(bytes).as("bytes of %d pages", pages.size() - 1)
        .isGreaterThanOrEqualTo((pages.size() - 1) * (long) BUDGET / 2);
  }

  @Test
  void initialStateAndCatchUpFillTheByteBudgetWithoutSkippingOrRepeating() {
    List<String> ids = seed();

    try (StreamClient fresh = new StreamClient(server.channel())) {
      fresh.hello("fresh", "", Subscription.newBuilder().addScopes(SCOPE).build());
      List<SyncChanges> pages = fresh.pagesUntilLive();
      List<SyncChanges> initial = pages.stream()
          .filter(p -> p.getPhase() == SyncPhase.SYNC_PHASE_INITIAL_STATE).toList();
      assertThat(StreamClient.entityIds(initial)).containsExactlyElementsOf(ids);
      assertWithinBudget(initial);
      // Sized by bytes: pages after the first hold far more than SYNC_BATCH_SIZE (50) small changes, and each
      // oversized document went alone.
      assertThat(initial).anySatisfy(p -> assertThat(p.getChangesCount()).isGreaterThan(50));
      assertThat(initial.stream().filter(p -> p.getChangesCount() == 1
          && p.getChanges(0).getSerializedSize() > BUDGET)).hasSize(3);
      assertFilled(initial);
      fresh.assertOpen();
    }

    long epoch = server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class);
    List<SyncChanges> caughtUp;
    try (StreamClient resumed = new StreamClient(server.channel())) {
      resumed.hello("resumed", Cursor.start(epoch).encode(), Subscription.newBuilder().addScopes(SCOPE).build());
      caughtUp = resumed.pagesUntilLive().stream()
          .filter(p -> p.getPhase() == SyncPhase.SYNC_PHASE_CATCH_UP).toList();
      assertThat(StreamClient.entityIds(caughtUp)).containsExactlyElementsOf(ids);
      assertWithinBudget(caughtUp);
      assertThat(caughtUp).anySatisfy(p -> assertThat(p.getChangesCount()).isGreaterThan(50));
      assertFilled(caughtUp);
      resumed.assertOpen();
    }

    // Every page's cursor, and the cursor of every change, resumes exactly after what it covers.
    int covered = 0;
    for (int i = 0; i < caughtUp.size(); i += Math.max(1, caughtUp.size() / 4)) {
      covered += caughtUp.get(i).getChangesCount();
      int upTo = 0;
      for (int j = 0; j <= i; j++) {
        upTo += caughtUp.get(j).getChangesCount();
      }
      assertResumesAfter(caughtUp.get(i).getCursor(), ids.subList(upTo, ids.size()));
      Change middle = caughtUp.get(i).getChanges(caughtUp.get(i).getChangesCount() / 2);
      int at = ids.indexOf(middle.getEntity().getEntityId());
      assertResumesAfter(middle.getCursor(), ids.subList(at + 1, ids.size()));
    }
    assertThat(covered).isPositive();

    // Pull keeps SYNC_BATCH_SIZE as its default page.
    assertThat(server.sync().pull(PullRequest.newBuilder().addScopes(SCOPE).build()).getChangesCount())
        .isEqualTo(50);
  }

  private static void assertResumesAfter(String cursor, List<String> expected) {
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("resume-" + UUID.randomUUID(), cursor, Subscription.newBuilder().addScopes(SCOPE).build());
      List<SyncChanges> pages = client.pagesUntilLive();
      assertThat(StreamClient.entityIds(pages)).as("resumed from %s", cursor).containsExactlyElementsOf(expected);
      assertWithinBudget(pages);
    }
  }
}

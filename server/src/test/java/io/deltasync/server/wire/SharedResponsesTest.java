package io.deltasync.server.wire;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.v1.Change;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The kept bytes are bounded in total, whatever is shared, and are the message's own serialization. */
class SharedResponsesTest {

  private static SyncResponse message(String id, int documentBytes) {
    Entity entity = Entity.newBuilder().setScope("s").setEntityType("note").setEntityId(id)
        .setEtag("x".repeat(documentBytes)).build();
    return SyncResponse.newBuilder()
        .setChanges(SyncChanges.newBuilder().addChanges(Change.newBuilder().setEntity(entity))).build();
  }

  @Test
  void keptBytesStayWithinTheTotalBudgetAndTheNewestAreKept() {
    List<SyncResponse> shared = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      shared.add(SharedResponses.share(message("e" + i, 100 * 1024)));
      assertThat(SharedResponses.keptBytes()).isLessThanOrEqualTo(SharedResponses.MAX_TOTAL_BYTES);
    }
    SyncResponse newest = shared.getLast();
    assertThat(SharedResponses.bytesOf(newest)).isEqualTo(newest.toByteArray());
    // 200 × 100 KiB cannot all be kept in 2 MiB: the oldest went first
    assertThat(SharedResponses.bytesOf(shared.getFirst())).isNull();
  }

  @Test
  void aMessageLargerThanTheSingleLimitIsNotKept() {
    SyncResponse large = SharedResponses.share(message("big", SharedResponses.MAX_BYTES + 1));
    assertThat(SharedResponses.bytesOf(large)).isNull();
  }

  @Test
  void smallMessagesAreKeptBySlotCount() {
    List<SyncResponse> shared = new ArrayList<>();
    for (int i = 0; i < SharedResponses.SLOTS; i++) {
      shared.add(SharedResponses.share(message("small" + i, 100)));
    }
    for (SyncResponse m : shared) {
      assertThat(SharedResponses.bytesOf(m)).isEqualTo(m.toByteArray());
    }
    SharedResponses.share(message("one-more", 100));
    assertThat(SharedResponses.bytesOf(shared.getFirst())).isNull();
  }
}

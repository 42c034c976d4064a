package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.wire.SharedResponses;
import io.deltasync.v1.Change;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncResponse;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A live page that several streams receive whole is one message, serialized once and sent as the same bytes to
 * each (wire.SharedResponses); the stream that wrote a change still does not get it back, and a stream whose filter
 * leaves part of the page out gets only its part.
 */
class SharedLivePagesIT {
  private static final String SCOPE = "shared-pages";

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static Subscription scope() {
    return Subscription.newBuilder().addScopes(SCOPE).build();
  }

  private static SyncResponse awaitLiveChangeOf(StreamClient stream, String id) {
    return stream.await(response -> response.hasChanges() && response.getChanges().getChangesList().stream()
        .anyMatch(c -> c.getEntity().getEntityId().equals(id)), "the live change of " + id);
  }

  @Test
  void readersGetTheSameBytesTheWriterNotItsOwnChangeAndAFilteredReaderItsPart() {
    try (StreamClient writer = new StreamClient(server.channel());
        StreamClient first = new StreamClient(server.channel());
        StreamClient second = new StreamClient(server.channel());
        StreamClient tasksOnly = new StreamClient(server.channel())) {
      writer.hello("shared-writer", "", scope());
      first.hello("shared-reader-1", "", scope());
      second.hello("shared-reader-2", "", scope());
      tasksOnly.hello("shared-reader-tasks", "", scope().toBuilder().setEntityType("task").build());
      for (StreamClient stream : List.of(writer, first, second, tasksOnly)) {
        stream.awaitLive();
      }
      long reusedBefore = SharedResponses.reused();

      // One push, one transaction: a note and a task in one live page.
      writer.push("b1", create("n1", doc("title", "note")).toBuilder().setScope(SCOPE).build(),
          create("t1", doc("title", "task")).toBuilder().setScope(SCOPE).setEntityType("task").build());
      List<DeltaResult> results = writer.awaitResults("b1").getResultsList();
      int writerHadAtB1 = writer.changes().size();
      assertThat(results).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);

      SyncResponse toFirst = awaitLiveChangeOf(first, "n1");
      SyncResponse toSecond = awaitLiveChangeOf(second, "n1");
      assertThat(toFirst).isEqualTo(toSecond);
      assertThat(toFirst.getChanges().getChangesList()).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("n1", "t1");
      // The two readers got one message: serialized once, its bytes sent again for the other.
      assertThat(SharedResponses.reused()).isGreaterThan(reusedBefore);

      SyncResponse toTasks = awaitLiveChangeOf(tasksOnly, "t1");
      assertThat(toTasks.getChanges().getChangesList()).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("t1");
      assertThat(toTasks.getChanges().getCursor()).isEqualTo(toFirst.getChanges().getCursor());

      // The writer moves past its own changes without receiving them once it holds their results. (A change that
      // wins the race against its own push result may still arrive before it, as docs/protocol.md says; so only
      // what arrives after each result is checked.)
      writer.push("b2", create("n2", doc("title", "from another")).toBuilder().setScope(SCOPE).build());
      writer.awaitResults("b2");
      int writerHadAtB2 = writer.changes().size();
      first.push("b3", create("n3", doc("title", "from first")).toBuilder().setScope(SCOPE).build());
      first.awaitResults("b3");
      awaitLiveChangeOf(writer, "n3");
      List<Change> writerGot = writer.changes();
      assertThat(writerGot.subList(writerHadAtB1, writerGot.size())).extracting(Change::getEntity)
          .extracting(e -> e.getEntityId()).doesNotContain("n1", "t1");
      assertThat(writerGot.subList(writerHadAtB2, writerGot.size())).extracting(Change::getEntity)
          .extracting(e -> e.getEntityId()).doesNotContain("n1", "t1", "n2").contains("n3");
    }
  }
}

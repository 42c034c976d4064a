package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Subscription;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two installations sharing one client id (an app restored from a backup onto a second phone, two windows of a
 * desktop app) see each other's writes: a stream holds back only changes it answered itself (docs/protocol.md).
 */
class SharedClientIdIT {
  private static final String SCOPE = "shared";
  private static final String CLIENT = "restored-on-two-phones";

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static Subscription subscription() {
    return Subscription.newBuilder().addScopes(SCOPE).build();
  }

  /** Waits until the stream has received a change of note/{id} at {@code version}. */
  private static Change awaitChange(StreamClient stream, String id, long version) {
    for (int count = 1; ; count++) {
      for (Change change : stream.awaitChanges(count)) {
        if (change.getEntity().getEntityId().equals(id) && change.getEntity().getRowVersion() == version) {
          return change;
        }
      }
    }
  }

  @Test
  void twoStreamsWithOneClientIdReceiveEachOthersWritesLiveAndOnResume() {
    String before;
    DeltaResult fromA;
    DeltaResult fromB;
    try (StreamClient a = new StreamClient(server.channel());
        StreamClient b = new StreamClient(server.channel())) {
      a.hello(CLIENT, "", subscription());
      b.hello(CLIENT, "", subscription());
      a.awaitLive();
      b.awaitLive();
      before = b.cursor();

      a.push("a1", create("from-a", doc("title", "typed on phone A")).toBuilder().setScope(SCOPE).build());
      fromA = a.awaitResults("a1").getResults(0);
      assertThat(fromA.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      Change seenByB = awaitChange(b, "from-a", fromA.getEntity().getRowVersion());
      assertThat(seenByB.getClientId()).isEqualTo(CLIENT);
      assertThat(seenByB.getEntity().getData()).isEqualTo(doc("title", "typed on phone A"));

      b.push("b1", create("from-b", doc("title", "typed on phone B")).toBuilder().setScope(SCOPE).build());
      fromB = b.awaitResults("b1").getResults(0);
      assertThat(awaitChange(a, "from-b", fromB.getEntity().getRowVersion()).getEntity().getData())
          .isEqualTo(doc("title", "typed on phone B"));
    }

    // Catching up from the change log follows the same rule: a new stream of the same client, resumed from before
    // both writes, gets both (its pushes were made on other streams).
    try (StreamClient again = new StreamClient(server.channel())) {
      again.hello(CLIENT, before, subscription());
      awaitChange(again, "from-a", fromA.getEntity().getRowVersion());
      awaitChange(again, "from-b", fromB.getEntity().getRowVersion());
    }
  }
}

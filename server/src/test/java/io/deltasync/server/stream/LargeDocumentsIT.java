package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Documents near the size limit: every message the server sends stays below the 4 MiB clients accept, however many
 * such documents a page holds (a page of 50 would be 12 MB).
 */
class LargeDocumentsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final int DOCUMENTS = 20;

  private static Struct big(String tag) {
    return Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue(tag + "x".repeat(240 * 1024))
        .build()).build();
  }

  private static Delta create(String id) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope("large").setOperation(Operation.OPERATION_CREATE).setData(big(id)).build();
  }

  @Test
  void initialStateCatchUpPullAndPushResultsAllFitInMessages() {
    for (int i = 0; i < DOCUMENTS; i++) {
      server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("d" + i)).build());
    }

    try (StreamClient fresh = new StreamClient(server.channel())) {
      fresh.hello("fresh", "", Subscription.newBuilder().addScopes("large").build());
      assertThat(fresh.awaitChanges(DOCUMENTS)).hasSize(DOCUMENTS);
      fresh.awaitLive();
      fresh.assertOpen();
    }
    try (StreamClient resumed = new StreamClient(server.channel())) {
      resumed.hello("resumed", io.deltasync.server.changefeed.Cursor.start(
          server.server().database().dsl().fetchSingle("select epoch from sync_epoch").get(0, Long.class))
          .encode(), Subscription.newBuilder().addScopes("large").build());
      List<Change> caughtUp = resumed.awaitChanges(DOCUMENTS);
      assertThat(caughtUp).extracting(c -> c.getEntity().getEntityId()).doesNotHaveDuplicates().hasSize(DOCUMENTS);
      resumed.assertOpen();
    }

    List<Change> pulled = new ArrayList<>();
    String cursor = "";
    PullResponse page;
    do {
      page = server.sync().pull(PullRequest.newBuilder().addScopes("large").setCursor(cursor).build());
      assertThat(page.getSerializedSize()).isLessThan(4 * 1024 * 1024);
      pulled.addAll(page.getChangesList());
      cursor = page.getNextCursor();
    } while (page.getHasMore());
    assertThat(pulled).extracting(c -> c.getEntity().getEntityId()).doesNotHaveDuplicates().hasSize(DOCUMENTS);

    // Twenty stale updates that each come back with a 240 KiB server document: the results stay below the limit,
    // and the deltas that did not fit say so and go through when pushed again.
    List<Delta> stale = new ArrayList<>();
    for (int i = 0; i < DOCUMENTS; i++) {
      stale.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId("d" + i).setScope("large").setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(99)
          .setData(Struct.getDefaultInstance()).setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS)
          .build());
    }
    List<DeltaResult> results = server.sync().push(PushRequest.newBuilder().setClientId("stale")
        .addAllDeltas(stale).build()).getResultsList();
    assertThat(results).hasSize(DOCUMENTS);
    List<Delta> again = new ArrayList<>();
    for (int i = 0; i < DOCUMENTS; i++) {
      DeltaResult result = results.get(i);
      if (result.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED) {
        assertThat(result.getError().getCode()).isEqualTo(com.google.rpc.Code.RESOURCE_EXHAUSTED_VALUE);
        again.add(stale.get(i));
      } else {
        assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
      }
    }
    assertThat(again).isNotEmpty();
    List<DeltaResult> retried = server.sync().push(PushRequest.newBuilder().setClientId("stale")
        .addAllDeltas(again.subList(0, Math.min(5, again.size()))).build()).getResultsList();
    assertThat(retried).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_CONFLICT);
  }
}

package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.Code;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A cursor older than the history the server keeps cannot be caught up change by change (a purged delete would
 * be missed and the row resurrected): Sync answers resync_required and sends current state, Pull refuses.
 */
class HistoryFloorIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @Test
  void aCursorBeforeTheHistoryFloorMustResync() {
    Subscription scope = Subscription.newBuilder().addScopes("floor").build();
    String oldCursor;
    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("phone", "", scope);
      phone.awaitLive();
      oldCursor = phone.cursor();
    }
    server.sync().push(PushRequest.newBuilder().setClientId("other")
        .addDeltas(create("kept", doc("v", "1")).toBuilder().setScope("floor")).build());
    // What tombstone clean-up does after purging old history: raise the floor past it.
    server.sql().execute("update sync_epoch set (history_floor_tx_id, history_floor_change_id) = "
        + "(select tx_id, change_id from change_log order by tx_id desc, change_id desc limit 1)");

    assertThatThrownBy(() -> server.sync().pull(PullRequest.newBuilder().setCursor(oldCursor).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(StatusProto.fromThrowable(e).getCode()).isEqualTo(Code.FAILED_PRECONDITION_VALUE);
          assertThat(e.getStatus().getDescription()).startsWith("resync required: the cursor is older than the "
              + "change history");
        });

    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("phone", oldCursor, scope);
      assertThat(phone.await(m -> m.hasResyncRequired() || m.hasChanges(), "resync").hasResyncRequired())
          .isTrue();
      SyncResponse state = phone.await(SyncResponse::hasChanges, "initial state");
      assertThat(state.getChanges().getPhase()).isEqualTo(SyncPhase.SYNC_PHASE_INITIAL_STATE);
      assertThat(state.getChanges().getChangesList()).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("kept");
      phone.awaitLive();
    }
  }
}

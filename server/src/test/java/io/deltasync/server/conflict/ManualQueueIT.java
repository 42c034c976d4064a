package io.deltasync.server.conflict;

import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Conflict;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.ListConflictsResponse;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncStatus;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The manual queue end to end: conflicts are queued, listed, resolved once, and the resolution reaches clients. */
class ManualQueueIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL);

  private static DeltaResult push(String client, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  private static Delta delta(String scope, String id, Operation operation, long base, String title) {
    Delta.Builder delta = Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
        .setEntityId(id).setScope(scope).setOperation(operation).setBaseRowVersion(base);
    if (title != null) {
      delta.setData(doc("title", title));
    }
    return delta.build();
  }

  /** Creates an entity, lets "b" update it, then queues "a"'s conflicting update; returns a's result. */
  private static DeltaResult conflictOn(String scope, String id) {
    push("a", delta(scope, id, Operation.OPERATION_CREATE, 0, "base"));
    push("b", delta(scope, id, Operation.OPERATION_UPDATE, 1, "by b"));
    return push("a", delta(scope, id, Operation.OPERATION_UPDATE, 1, "by a"));
  }

  private static String reason(StatusRuntimeException e) throws Exception {
    return StatusProto.fromThrowable(e).getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).findFirst()
        .orElseThrow().unpack(ErrorInfo.class).getReason();
  }

  @Test
  void queueListResolveAndTheResolutionReachesSubscribers() throws Exception {
    try (StreamClient watcher = new StreamClient(server.channel())) {
      watcher.hello("watcher", "", Subscription.newBuilder().addScopes("manual").build());
      watcher.awaitLive();

      DeltaResult queued = conflictOn("manual", "doc-1");
      assertThat(queued.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
      String conflictId = queued.getResolution().getConflictId();
      Entity marked = queued.getEntity();
      assertThat(marked.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_CONFLICT);
      assertThat(marked.getData()).isEqualTo(doc("title", "by b"));
      assertThat(marked.getConflictData().getFieldsOrThrow("client_data").getStructValue())
          .isEqualTo(doc("title", "by a"));

      ListConflictsResponse listed = server.sync().listConflicts(ListConflictsRequest.newBuilder()
          .setScope("manual").setEntityType("note").setClientId("a").build());
      assertThat(listed.getConflictsList()).hasSize(1);
      Conflict conflict = listed.getConflicts(0);
      assertThat(conflict.getConflictId()).isEqualTo(conflictId);
      assertThat(conflict.getClientId()).isEqualTo("a");
      assertThat(conflict.getClientDelta().getData()).isEqualTo(doc("title", "by a"));
      assertThat(conflict.getServerEntity().getRowVersion()).isEqualTo(2);
      assertThat(conflict.getServerEntity().getData()).isEqualTo(doc("title", "by b"));
      assertThat(server.sync().listConflicts(ListConflictsRequest.newBuilder().setClientId("b").build())
          .getConflictsList()).isEmpty();

      // A resolution prepared against an older version is refused, not applied.
      assertThatThrownBy(() -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
          .setConflictId(conflictId).setChoice(ResolutionChoice.RESOLUTION_CHOICE_USE_DATA)
          .setData(doc("title", "merged")).setBaseRowVersion(2).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
              assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.ABORTED));

      Entity resolved = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
          .setConflictId(conflictId).setChoice(ResolutionChoice.RESOLUTION_CHOICE_USE_DATA)
          .setData(doc("title", "merged")).setBaseRowVersion(marked.getRowVersion()).build()).getEntity();
      assertThat(resolved.getData()).isEqualTo(doc("title", "merged"));
      assertThat(resolved.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_SYNCED);
      assertThat(resolved.hasConflictData()).isFalse();
      assertThat(resolved.getRowVersion()).isEqualTo(marked.getRowVersion() + 1);

      Entity seen = null;
      while (seen == null || seen.getRowVersion() < resolved.getRowVersion()) {
        List<io.deltasync.v1.Change> changes = watcher.awaitChanges(watcher.changes().size() + 1);
        seen = changes.getLast().getEntity();
      }
      assertThat(seen).isEqualTo(resolved);

      StatusRuntimeException again = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
          () -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder().setConflictId(conflictId)
              .setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER).setBaseRowVersion(resolved.getRowVersion())
              .build()));
      assertThat(again.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.FAILED_PRECONDITION);
      assertThat(reason(again)).isEqualTo("CONFLICT_ALREADY_RESOLVED");
      assertThat(server.sync().listConflicts(ListConflictsRequest.newBuilder().setScope("manual").build())
          .getConflictsList()).isEmpty();
    }
  }

  @Test
  void takeClientAndTakeServer() {
    DeltaResult first = conflictOn("choices", "c-1");
    Entity takeClient = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(first.getResolution().getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT)
        .setBaseRowVersion(first.getEntity().getRowVersion()).build()).getEntity();
    assertThat(takeClient.getData()).isEqualTo(doc("title", "by a"));

    DeltaResult second = conflictOn("choices", "c-2");
    Entity takeServer = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(second.getResolution().getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER)
        .setBaseRowVersion(second.getEntity().getRowVersion()).build()).getEntity();
    assertThat(takeServer.getData()).isEqualTo(doc("title", "by b"));
    assertThat(takeServer.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_SYNCED);

    // A conflicting delete, taken: the entity becomes a tombstone.
    push("a", delta("choices", "c-3", Operation.OPERATION_CREATE, 0, "base"));
    push("b", delta("choices", "c-3", Operation.OPERATION_UPDATE, 1, "by b"));
    DeltaResult delete = push("a", delta("choices", "c-3", Operation.OPERATION_DELETE, 1, null));
    Entity deleted = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(delete.getResolution().getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT)
        .setBaseRowVersion(delete.getEntity().getRowVersion()).build()).getEntity();
    assertThat(deleted.getIsDeleted()).isTrue();
  }

  @Test
  void anEntityStaysInConflictUntilItsLastConflictIsResolved() {
    DeltaResult first = conflictOn("several", "s-1");
    DeltaResult second = push("c", delta("several", "s-1", Operation.OPERATION_UPDATE, 1, "by c"));
    assertThat(second.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
    assertThat(second.getEntity().getConflictData().getFieldsOrThrow("conflict_ids").getListValue().getValuesCount())
        .isEqualTo(2);

    Entity afterOne = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(first.getResolution().getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER)
        .setBaseRowVersion(second.getEntity().getRowVersion()).build()).getEntity();
    assertThat(afterOne.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_CONFLICT);
    assertThat(afterOne.getConflictData().getFieldsOrThrow("conflict_ids").getListValue().getValues(0)
        .getStringValue()).isEqualTo(second.getResolution().getConflictId());

    Entity afterBoth = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(second.getResolution().getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT)
        .setBaseRowVersion(afterOne.getRowVersion()).build()).getEntity();
    assertThat(afterBoth.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_SYNCED);
    assertThat(afterBoth.getData()).isEqualTo(doc("title", "by c"));
  }

  @Test
  void listingIsPaginated() {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ids.add(conflictOn("paged", "p-" + i).getResolution().getConflictId());
    }
    List<String> listed = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      ListConflictsResponse page = server.sync().listConflicts(ListConflictsRequest.newBuilder().setScope("paged")
          .setPageSize(2).setPageToken(token).build());
      page.getConflictsList().forEach(c -> listed.add(c.getConflictId()));
      token = page.getNextPageToken();
      pages++;
    } while (!token.isEmpty());
    assertThat(pages).isEqualTo(3);
    assertThat(listed).containsExactlyElementsOf(ids);
  }

  @Test
  void badResolutionsAreRefusedClearly() throws Exception {
    assertThatThrownBy(() -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId("nope").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(StatusProto.fromThrowable(e).getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
          assertThat(e.getStatus().getDescription()).contains("conflict_id: 'nope' is not a conflict id",
              "choice: required", "base_row_version: required");
        });
    StatusRuntimeException unknown = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
            .setConflictId(UUID.randomUUID().toString()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER)
            .setBaseRowVersion(1).build()));
    assertThat(unknown.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
    assertThat(reason(unknown)).isEqualTo("CONFLICT_NOT_FOUND");
  }
}

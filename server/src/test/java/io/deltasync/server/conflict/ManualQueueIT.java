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

      assertThat(conflict.getCurrentRowVersion()).isEqualTo(marked.getRowVersion());
      assertThat(conflict.getCurrentEtag()).isEqualTo(marked.getEtag());
      // A resolution prepared against an older version is refused, not applied.
      assertThatThrownBy(() -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
          .setConflictId(conflictId).setChoice(ResolutionChoice.RESOLUTION_CHOICE_USE_DATA)
          .setData(doc("title", "merged")).setBaseRowVersion(1).build()))
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

  /** Issue 10, item 11: a conflict as ListConflicts shows it carries what resolving it needs. */
  @Test
  void aListedConflictResolvesAsListed() throws Exception {
    conflictOn("as-listed", "l-1");
    push("c", delta("as-listed", "l-1", Operation.OPERATION_UPDATE, 1, "by c"));
    List<Conflict> listed = server.sync().listConflicts(ListConflictsRequest.newBuilder().setScope("as-listed")
        .build()).getConflictsList();
    assertThat(listed).hasSize(2);

    // The version the listed conflict met is still current: queuing the second conflict did not move it.
    Entity first = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(listed.get(0).getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER)
        .setBaseRowVersion(listed.get(0).getServerEntity().getRowVersion()).build()).getEntity();
    assertThat(first.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_CONFLICT);

    // The first resolution moved the entity: asked to check the listed version, the second is refused with the
    // current version and etag; without a version it resolves whatever is there now.
    StatusRuntimeException stale = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
            .setConflictId(listed.get(1).getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT)
            .setBaseRowVersion(listed.get(1).getCurrentRowVersion()).build()));
    assertThat(stale.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.ABORTED);
    ErrorInfo info = StatusProto.fromThrowable(stale).getDetailsList().stream().filter(d -> d.is(ErrorInfo.class))
        .findFirst().orElseThrow().unpack(ErrorInfo.class);
    assertThat(info.getMetadataMap()).containsEntry("current_row_version", Long.toString(first.getRowVersion()))
        .containsEntry("current_etag", first.getEtag());
    Entity second = server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(listed.get(1).getConflictId()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT)
        .build()).getEntity();
    assertThat(second.getData()).isEqualTo(doc("title", "by c"));
    assertThat(second.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_SYNCED);
    assertThat(second.getRowVersion()).isEqualTo(first.getRowVersion() + 1);
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

  /** Issue 10, item 7: each conflict holds two documents, so a page counted in conflicts alone could be too big. */
  @Test
  void listingPagesFitInOneMessage() {
    String big = "x".repeat(200_000);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 14; i++) {
      String id = "big-" + i;
      push("a", delta("big", id, Operation.OPERATION_CREATE, 0, big));
      push("b", delta("big", id, Operation.OPERATION_UPDATE, 1, big + "b"));
      ids.add(push("a", delta("big", id, Operation.OPERATION_UPDATE, 1, big + "a")).getResolution().getConflictId());
    }
    List<String> listed = new ArrayList<>();
    String token = "";
    int pages = 0;
    do {
      // The client accepts gRPC's default 4 MiB; 14 conflicts of two 200 KB documents each take about 5.6 MB.
      ListConflictsResponse page = server.sync().listConflicts(ListConflictsRequest.newBuilder().setScope("big")
          .setPageToken(token).build());
      assertThat(page.getSerializedSize()).isLessThan(4 * 1024 * 1024);
      assertThat(page.getConflictsList()).isNotEmpty();
      page.getConflictsList().forEach(c -> listed.add(c.getConflictId()));
      token = page.getNextPageToken();
      pages++;
    } while (!token.isEmpty());
    assertThat(pages).isGreaterThan(1);
    assertThat(listed).containsExactlyElementsOf(ids);
  }

  @Test
  void badResolutionsAreRefusedClearly() throws Exception {
    assertThatThrownBy(() -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId("nope").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(StatusProto.fromThrowable(e).getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
          assertThat(e.getStatus().getDescription()).contains("conflict_id: 'nope' is not a conflict id",
              "choice: required");
        });
    StatusRuntimeException unknown = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
            .setConflictId(UUID.randomUUID().toString()).setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER)
            .setBaseRowVersion(1).build()));
    assertThat(unknown.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.NOT_FOUND);
    assertThat(reason(unknown)).isEqualTo("CONFLICT_NOT_FOUND");
  }
}

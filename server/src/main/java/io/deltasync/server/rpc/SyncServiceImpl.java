package io.deltasync.server.rpc;

import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import com.google.protobuf.Timestamp;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.changefeed.Subscriptions;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.stream.SessionSettings;
import io.deltasync.server.stream.SyncSessions;
import io.deltasync.server.write.ManualResolution;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.Change;
import io.deltasync.v1.ClientStatus;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.GetStatusResponse;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.ListConflictsResponse;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.ResolveConflictResponse;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The SyncService RPCs: request-level checks here, the work in {@code write} and {@code changefeed}. */
public final class SyncServiceImpl extends SyncServiceGrpc.SyncServiceImplBase {
  private static final String SERVER_VERSION = Optional.ofNullable(
      SyncServiceImpl.class.getPackage().getImplementationVersion()).orElse("development");

  private final WriteService writes;
  private final ChangeFeed changeFeed;
  private final SyncSessions sessions;
  private final ManualResolution manual;
  private final SessionSettings advertised;
  private final ServerConfig.Limits limits;

  /** Creates the service over the write path, the change feed and the stream sessions. */
  public SyncServiceImpl(WriteService writes, ChangeFeed changeFeed, SyncSessions sessions,
      ManualResolution manual, SessionSettings advertised, ServerConfig.Limits limits) {
    this.writes = writes;
    this.manual = manual;
    this.changeFeed = changeFeed;
    this.sessions = sessions;
    this.advertised = advertised;
    this.limits = limits;
  }

  @Override
  public void push(PushRequest request, StreamObserver<PushResponse> responseObserver) {
    UnaryCalls.answer("Push", responseObserver, () -> {
      List<FieldViolation> violations = new ArrayList<>(WriteService.checkClientId("client_id",
          request.getClientId()));
      if (!violations.isEmpty()) {
        throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, violations));
      }
      if (request.getDeltasCount() > limits.maxDeltasPerPush()) {
        throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED, List.of(
            Errors.violation("deltas", "count: " + request.getDeltasCount() + " (expected: <= "
                + limits.maxDeltasPerPush() + "; split the batch)"))));
      }
      var results = writes.push(request.getClientId(), request.getDeltasList());
      io.deltasync.server.faults.CrashPoint.afterCommit(request.getDeltasList());
      return PushResponse.newBuilder().addAllResults(results).build();
    });
  }

  @Override
  public void pull(PullRequest request, StreamObserver<PullResponse> responseObserver) {
    UnaryCalls.answer("Pull", responseObserver, () -> {
      List<FieldViolation> violations = new ArrayList<>();
      if (request.getPageSize() < 0) {
        violations.add(Errors.violation("page_size", request.getPageSize() + " (expected: >= 0)"));
      }
      Subscriptions subscriptions = Subscriptions.of(request.getEntityTypesList(), request.getScopesList(),
          violations);
      if (!violations.isEmpty()) {
        throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, violations));
      }
      Cursor after = changeFeed.resolve(request.getCursor(), "cursor");
      int pageSize = request.getPageSize() == 0 ? limits.pageSize() : Math.min(request.getPageSize(),
          limits.pageSize());
      ChangeFeed.Page page = changeFeed.read(after, pageSize, subscriptions.filter());
      // Pages are counted in changes, but a response must also stay below the message size clients accept.
      long budget = MessageBudget.of(limits.maxMessageBytes());
      PullResponse.Builder response = PullResponse.newBuilder();
      long bytes = 0;
      for (Change change : page.changes()) {
        int size = change.getSerializedSize() + MessageBudget.FRAMING_BYTES;
        if (response.getChangesCount() > 0 && bytes + size > budget) {
          return response.setNextCursor(response.getChanges(response.getChangesCount() - 1).getCursor())
              .setHasMore(true).build();
        }
        response.addChanges(change);
        bytes += size;
      }
      return response.setNextCursor(page.next().encode()).setHasMore(page.hasMore()).build();
    });
  }

  @Override
  public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responseObserver) {
    return sessions.open(responseObserver);
  }

  @Override
  public void listConflicts(ListConflictsRequest request, StreamObserver<ListConflictsResponse> responseObserver) {
    UnaryCalls.answer("ListConflicts", responseObserver, () -> manual.list(request));
  }

  @Override
  public void resolveConflict(ResolveConflictRequest request,
      StreamObserver<ResolveConflictResponse> responseObserver) {
    UnaryCalls.answer("ResolveConflict", responseObserver, () -> ResolveConflictResponse.newBuilder()
        .setEntity(manual.resolve(request)).build());
  }

  @Override
  public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> responseObserver) {
    UnaryCalls.answer("GetStatus", responseObserver, () -> {
      SyncStore store = changeFeed.store();
      GetStatusResponse.Builder response = GetStatusResponse.newBuilder()
          .setServerCursor(changeFeed.encodeAt(store.visiblePosition()))
          .setLimits(advertised.limits())
          .setRetryPolicy(advertised.retryPolicy())
          .setServerVersion(SERVER_VERSION);
      if (!request.getClientId().isEmpty()) {
        List<FieldViolation> violations = WriteService.checkClientId("client_id", request.getClientId());
        if (!violations.isEmpty()) {
          throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT,
              violations));
        }
        SyncStore.ClientStatusRow row = store.clientStatus(request.getClientId()).orElseThrow(() ->
            new DeltaSyncException(Code.NOT_FOUND, ErrorReason.ERROR_REASON_UNKNOWN_CLIENT,
                "client_id: no client '" + request.getClientId() + "' has opened a Sync stream"));
        Position acked = row.lastAck() == null ? Position.START : row.lastAck();
        response.setClient(ClientStatus.newBuilder()
            .setClientId(request.getClientId())
            .setLastAckCursor(row.lastAckCursor())
            .setLastSeenAt(Timestamp.newBuilder().setSeconds(row.lastSeenAt().toEpochSecond())
                .setNanos(row.lastSeenAt().getNano()))
            .setPendingChanges(store.countChangesAfter(acked)));
      }
      return response.build();
    });
  }

  static io.grpc.StatusRuntimeException notYet(String method, String comesWith) {
    return StatusProto.toStatusRuntimeException(Errors.status(Code.UNIMPLEMENTED,
        ErrorReason.ERROR_REASON_NOT_IMPLEMENTED,
        method + " is not implemented in this version of deltasync; it arrives with " + comesWith));
  }
}

package io.deltasync.server.rpc;

import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.auth.Access;
import io.deltasync.server.auth.Audit;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.changefeed.PullPages;
import io.deltasync.server.changefeed.Subscriptions;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.ops.StatusReport;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.stream.ScopedPush;
import io.deltasync.server.stream.SessionSettings;
import io.deltasync.server.stream.SyncSessions;
import io.deltasync.server.write.ManualResolution;
import io.deltasync.server.write.WriteService;
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

/** The SyncService RPCs: request-level checks here, the work in {@code write} and {@code changefeed}. */
public final class SyncServiceImpl extends SyncServiceGrpc.SyncServiceImplBase {
  private final WriteService writes;
  private final PullPages pulls;
  private final SyncSessions sessions;
  private final ManualResolution manual;
  private final SessionSettings advertised;
  private final ServerConfig.Limits limits;
  private final StatusReport status;

  /** Creates the service over the write path, the change feed and the stream sessions. */
  public SyncServiceImpl(WriteService writes, ChangeFeed changeFeed, SyncSessions sessions,
      ManualResolution manual, SessionSettings advertised, ServerConfig.Limits limits, StatusReport status) {
    this.status = status;
    this.writes = writes;
    this.manual = manual;
    this.pulls = new PullPages(changeFeed, limits.maxMessageBytes());
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
      Principal principal = Principal.current();
      var results = advertised.telemetry().push("unary", request.getClientId(), request.getDeltasCount(),
          () -> ScopedPush.push(writes, principal, principal.clientKey(request.getClientId()),
              request.getDeltasList(), "deltas"));
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
      // A scope named but not readable is refused; no scopes means every scope the credential may read.
      Principal principal = Principal.current();
      for (int i = 0; i < request.getScopesCount(); i++) {
        Access.requireReadable(principal, "scopes[" + i + "]", request.getScopes(i));
      }
      int pageSize = request.getPageSize() == 0 ? limits.pageSize() : Math.min(request.getPageSize(),
          limits.pageSize());
      return pulls.page(request.getCursor(), pageSize, subscriptions.filter().restrictedTo(principal.readable()));
    });
  }

  @Override
  public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responseObserver) {
    return sessions.open(responseObserver, Principal.current());
  }

  @Override
  public void watchChanges(io.deltasync.v1.WatchChangesRequest request,
      StreamObserver<io.deltasync.v1.WatchChangesResponse> responseObserver) {
    sessions.watch(request, responseObserver, Principal.current());
  }

  @Override
  public void listConflicts(ListConflictsRequest request, StreamObserver<ListConflictsResponse> responseObserver) {
    UnaryCalls.answer("ListConflicts", responseObserver, () -> {
      Principal principal = Principal.current();
      if (!request.getScope().isEmpty() && EntityKey.isScope(request.getScope())) {
        Access.requireReadable(principal, "scope", request.getScope());
      }
      return manual.list(request, principal.readable(),
          request.getClientId().isEmpty() ? "" : principal.clientKey(request.getClientId()));
    });
  }

  @Override
  public void resolveConflict(ResolveConflictRequest request,
      StreamObserver<ResolveConflictResponse> responseObserver) {
    UnaryCalls.answer("ResolveConflict", responseObserver, () -> {
      Principal principal = Principal.current();
      var entity = manual.resolve(request, principal.readable(),
          scope -> Access.requireWritable(principal, "conflict_id", scope));
      Audit.conflictResolved(principal, request.getConflictId(), entity.getScope(), request.getChoice().name());
      return ResolveConflictResponse.newBuilder().setEntity(entity).build();
    });
  }

  @Override
  public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> responseObserver) {
    UnaryCalls.answer("GetStatus", responseObserver, () -> status.report(request, Principal.current()));
  }

  static io.grpc.StatusRuntimeException notYet(String method, String comesWith) {
    return StatusProto.toStatusRuntimeException(Errors.status(Code.UNIMPLEMENTED,
        ErrorReason.ERROR_REASON_NOT_IMPLEMENTED,
        method + " is not implemented in this version of deltasync; it arrives with " + comesWith));
  }
}

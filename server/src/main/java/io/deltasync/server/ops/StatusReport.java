package io.deltasync.server.ops;

import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.StatusQueries;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.stream.SessionSettings;
import io.deltasync.server.stream.SyncSession;
import io.deltasync.server.stream.SyncSessions;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.ClientStatus;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.GetStatusResponse;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.jooq.exception.DataAccessException;

/**
 * GetStatus: the server (version, database reachable, schema version, cursor, watermark age, this node's streams by
 * phase) and, when asked, one client (last seen, last acknowledged cursor, pending changes, open conflicts). Every
 * query is bounded in cost (see {@link StatusQueries}); a database that cannot be reached is reported, not thrown.
 */
public final class StatusReport {
  private static final String SERVER_VERSION = Optional.ofNullable(
      StatusReport.class.getPackage().getImplementationVersion()).orElse("development");

  private final ChangeFeed changeFeed;
  private final SyncSessions sessions;
  private final SessionSettings advertised;
  private final StatusQueries queries;

  /** The report over the change feed, this node's sessions and the status queries. */
  public StatusReport(ChangeFeed changeFeed, SyncSessions sessions, SessionSettings advertised,
      StatusQueries queries) {
    this.changeFeed = changeFeed;
    this.sessions = sessions;
    this.advertised = advertised;
    this.queries = queries;
  }

  /**
   * Answers one GetStatus request of {@code principal}: its client id is looked up as bound to the principal, and
   * pending changes are counted in the scopes it may read only.
   */
  public GetStatusResponse report(GetStatusRequest request, Principal principal) {
    if (!request.getClientId().isEmpty()) {
      List<FieldViolation> violations = WriteService.checkClientId("client_id", request.getClientId());
      if (!violations.isEmpty()) {
        throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, violations));
      }
    }
    GetStatusResponse.Builder response = GetStatusResponse.newBuilder()
        .setLimits(advertised.limits())
        .setRetryPolicy(advertised.retryPolicy())
        .setServerVersion(SERVER_VERSION);
    // This node's streams belong to every principal: only operators (ops:status) see them counted.
    boolean operator = principal.has(io.deltasync.server.auth.Permission.OPS_STATUS);
    for (SyncSession.State state : SyncSession.State.values()) {
      if (operator && state != SyncSession.State.CLOSED) {
        response.putSessionsByPhase(state.name().toLowerCase(Locale.ROOT), 0);
      }
    }
    for (SyncSession.Stats stats : operator ? sessions.stats() : List.<SyncSession.Stats>of()) {
      if (stats.state() != SyncSession.State.CLOSED) {
        response.putSessionsByPhase(stats.state().name().toLowerCase(Locale.ROOT),
            response.getSessionsByPhaseOrDefault(stats.state().name().toLowerCase(Locale.ROOT), 0) + 1);
      }
    }
    SyncStore store = changeFeed.store();
    try {
      response.setSchemaVersion(queries.schemaVersion())
          .setServerCursor(changeFeed.encodeAt(store.visiblePosition()))
          .setDatabaseReachable(true);
    } catch (DataAccessException e) {
      if (!SyncStore.isUnavailable(e)) {
        throw e;
      }
      if (!request.getClientId().isEmpty()) {
        throw e;  // the client's status lives in the database: UNAVAILABLE says so
      }
      return response.setDatabaseReachable(false).build();
    }
    double age = store.watermarkAgeSeconds();
    if (!Double.isNaN(age)) {
      response.setWatermarkAge(duration(Duration.ofNanos(Math.round(age * 1e9))));
    }
    if (!request.getClientId().isEmpty()) {
      response.setClient(client(store, request.getClientId(), principal));
    }
    return response.build();
  }

  private ClientStatus client(SyncStore store, String clientId, Principal principal) {
    String clientKey = principal.clientKey(clientId);
    SyncStore.ClientStatusRow row = store.clientStatus(clientKey).orElseThrow(() ->
        new DeltaSyncException(Code.NOT_FOUND, ErrorReason.ERROR_REASON_UNKNOWN_CLIENT,
            "client_id: no client '" + clientId + "' has opened a Sync stream"));
    Position acked = row.lastAck() == null ? Position.START : row.lastAck();
    StatusQueries.Pending pending = queries.pendingAfter(acked, principal.readable());
    return ClientStatus.newBuilder()
        .setClientId(clientId)
        .setLastAckCursor(row.lastAckCursor())
        .setLastSeenAt(Timestamp.newBuilder().setSeconds(row.lastSeenAt().toEpochSecond())
            .setNanos(row.lastSeenAt().getNano()))
        .setPendingChanges(pending.count())
        .setPendingChangesEstimated(pending.estimated())
        .setOpenConflicts(queries.openConflicts(clientKey))
        .build();
  }

  private static com.google.protobuf.Duration duration(Duration duration) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(duration.getSeconds())
        .setNanos(duration.getNano()).build();
  }
}

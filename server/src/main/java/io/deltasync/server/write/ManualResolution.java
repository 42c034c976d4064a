package io.deltasync.server.write;

import com.google.protobuf.Struct;
import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ConflictQueue;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Expected;
import io.deltasync.server.store.Json;
import io.deltasync.server.store.QueuedConflict;
import io.deltasync.server.store.SyncStore;
import io.deltasync.v1.Conflict;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.ListConflictsResponse;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.SyncStatus;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The manual resolution queue: listing open conflicts, and resolving one with a compare-and-set that also closes
 * it. A resolution is an ordinary write of the entity, so it reaches every subscribed client as a change.
 */
public final class ManualResolution {
  /** The writer recorded for resolutions; no client is excluded from receiving them. */
  static final String RESOLVER = "deltasync:conflict-resolution";

  private final SyncStore store;
  private final ConflictQueue queue;
  private final DeltaValidator validator;
  private final int maxPageSize;

  /** Creates the service. */
  public ManualResolution(SyncStore store, ConflictQueue queue, int maxDataBytes, int maxPageSize) {
    this.store = store;
    this.queue = queue;
    this.validator = new DeltaValidator(maxDataBytes);
    this.maxPageSize = maxPageSize;
  }

  /** A page of open conflicts, oldest first. */
  public ListConflictsResponse list(ListConflictsRequest request) {
    List<FieldViolation> violations = new ArrayList<>();
    if (request.getPageSize() < 0) {
      violations.add(Errors.violation("page_size", request.getPageSize() + " (expected: >= 0)"));
    }
    if (!request.getScope().isEmpty() && !DeltaValidator.isScope(request.getScope())) {
      violations.add(Errors.violation("scope", "'" + request.getScope() + "' is not a scope"));
    }
    if (!request.getEntityType().isEmpty() && !DeltaValidator.isEntityType(request.getEntityType())) {
      violations.add(Errors.violation("entity_type", "'" + request.getEntityType() + "' is not an entity type"));
    }
    ConflictQueue.After after = null;
    if (!request.getPageToken().isEmpty()) {
      after = decodeToken(request.getPageToken());
      if (after == null) {
        violations.add(Errors.violation("page_token", "not a page token issued by this server"));
      }
    }
    if (!violations.isEmpty()) {
      throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, violations));
    }
    int pageSize = request.getPageSize() == 0 ? maxPageSize : Math.min(request.getPageSize(), maxPageSize);
    List<QueuedConflict> page = queue.listOpen(request.getScope(), request.getEntityType(), request.getClientId(),
        after, pageSize + 1);
    ListConflictsResponse.Builder response = ListConflictsResponse.newBuilder();
    for (QueuedConflict conflict : page.subList(0, Math.min(pageSize, page.size()))) {
      response.addConflicts(toProto(conflict));
    }
    if (page.size() > pageSize) {
      QueuedConflict last = page.get(pageSize - 1);
      response.setNextPageToken(encodeToken(last.detectedAt(), last.conflictId()));
    }
    return response.build();
  }

  /** Resolves one conflict and returns the entity after the resolution. */
  public Entity resolve(ResolveConflictRequest request) {
    List<FieldViolation> violations = new ArrayList<>();
    UUID conflictId = null;
    try {
      conflictId = UUID.fromString(request.getConflictId());
    } catch (IllegalArgumentException e) {
      violations.add(Errors.violation("conflict_id", "'" + request.getConflictId() + "' is not a conflict id"));
    }
    if (request.getChoice() == ResolutionChoice.RESOLUTION_CHOICE_UNSPECIFIED
        || request.getChoice() == ResolutionChoice.UNRECOGNIZED) {
      violations.add(Errors.violation("choice", "required: RESOLUTION_CHOICE_TAKE_CLIENT, _TAKE_SERVER or "
          + "_USE_DATA"));
    }
    if (request.getBaseRowVersion() <= 0) {
      violations.add(Errors.violation("base_row_version", "required: the entity's row_version the resolution "
          + "is based on"));
    }
    String dataJson = null;
    if (request.getChoice() == ResolutionChoice.RESOLUTION_CHOICE_USE_DATA) {
      // Checked by the same rules as a delta's data.
      Delta asDelta = Delta.newBuilder().setDeltaId("resolution").setEntityType("x").setEntityId("x").setScope("x")
          .setOperation(Operation.OPERATION_CREATE).setData(request.getData()).build();
      if (!request.hasData()) {
        violations.add(Errors.violation("data", "required for RESOLUTION_CHOICE_USE_DATA"));
      } else {
        DeltaValidator.Outcome outcome = validator.validate(asDelta, "resolution");
        outcome.violations().forEach(v -> violations.add(v.toBuilder()
            .setField(v.getField().replace("resolution.", "")).build()));
        dataJson = outcome.isValid() ? outcome.valid().dataJson() : null;
      }
    } else if (request.hasData()) {
      violations.add(Errors.violation("data", "only for RESOLUTION_CHOICE_USE_DATA"));
    }
    if (!violations.isEmpty()) {
      throw new DeltaSyncException(Errors.invalidArgument(DeltaValidator.reason(violations), violations));
    }
    UUID id = conflictId;
    String chosenData = dataJson;
    return store.inTransaction(tx -> {
      QueuedConflict conflict = tx.lockConflict(id).orElseThrow(() -> new DeltaSyncException(Code.NOT_FOUND,
          ErrorReason.ERROR_REASON_CONFLICT_NOT_FOUND, "no conflict " + id));
      if (conflict.resolvedAt() != null) {
        throw new DeltaSyncException(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_CONFLICT_ALREADY_RESOLVED,
            "conflict " + id + " was already resolved at " + conflict.resolvedAt());
      }
      EntityKey key = conflict.key();
      Entity current = tx.entities().find(key).orElseThrow(() -> new DeltaSyncException(Code.NOT_FOUND,
          ErrorReason.ERROR_REASON_ENTITY_NOT_FOUND, "the entity of conflict " + id + " no longer exists"));
      if (current.getRowVersion() != request.getBaseRowVersion()) {
        throw stale(current, request.getBaseRowVersion());
      }
      List<UUID> stillOpen = new ArrayList<>(tx.openConflictIds(key));
      stillOpen.remove(id);
      String syncStatus = stillOpen.isEmpty() ? "synced" : "conflict";
      String conflictData = stillOpen.isEmpty() ? null : Json.toJson(remaining(tx, stillOpen));
      Delta delta = conflict.delta();
      String newData;
      boolean deleted;
      String resolution;
      switch (request.getChoice()) {
        case RESOLUTION_CHOICE_TAKE_SERVER -> {
          newData = null;  // data and liveness stay as they are
          deleted = current.getIsDeleted();
          resolution = "take_server";
        }
        case RESOLUTION_CHOICE_TAKE_CLIENT -> {
          deleted = delta.getOperation() == Operation.OPERATION_DELETE;
          newData = deleted ? Json.toJson(current.getData()) : Json.toJson(delta.getData());
          resolution = "take_client";
        }
        default -> {
          newData = chosenData;
          deleted = false;
          resolution = "use_data";
        }
      }
      tx.identifyWriter(RESOLVER, "resolve:" + id, System.currentTimeMillis() * 1_000);
      Entity resolved = tx.entities().writeConflictState(key, new Expected(current.getRowVersion(), ""),
          syncStatus, conflictData, newData, deleted).orElseThrow(() -> stale(current, request.getBaseRowVersion()));
      tx.closeConflict(id, resolution);
      return resolved;
    });
  }

  private static DeltaSyncException stale(Entity current, long base) {
    return new DeltaSyncException(Errors.status(Code.ABORTED, ErrorReason.ERROR_REASON_VERSION_CONFLICT,
        "the entity changed since the resolution was prepared: base_row_version " + base + ", current "
            + current.getRowVersion() + "; look at it again and resolve against the current version",
        Map.of("current_row_version", Long.toString(current.getRowVersion()))));
  }

  /** conflict_data once one of several open conflicts is resolved: the ids still open, the newest in detail. */
  private static Struct remaining(io.deltasync.server.store.WriteTransaction tx, List<UUID> stillOpen) {
    UUID newest = stillOpen.getLast();
    QueuedConflict detail = tx.readConflict(newest).orElseThrow();  // not locked: see readConflict
    return WriteService.conflictData(stillOpen.subList(0, stillOpen.size() - 1), newest, detail.clientId(),
        detail.delta());
  }

  private static Conflict toProto(QueuedConflict conflict) {
    Entity.Builder server = Entity.newBuilder()
        .setScope(conflict.key().scope())
        .setEntityType(conflict.key().entityType())
        .setEntityId(conflict.key().entityId())
        .setRowVersion(conflict.serverRowVersion())
        .setIsDeleted(conflict.serverDeleted())
        .setSyncStatus(SyncStatus.SYNC_STATUS_SYNCED);
    if (conflict.serverDataJson() != null) {
      server.setData(Json.toStruct(org.jooq.JSONB.valueOf(conflict.serverDataJson())));
    }
    return Conflict.newBuilder()
        .setConflictId(conflict.conflictId().toString())
        .setClientDelta(conflict.delta())
        .setClientId(conflict.clientId())
        .setServerEntity(server)
        .setDetectedAt(com.google.protobuf.Timestamp.newBuilder()
            .setSeconds(conflict.detectedAt().toEpochSecond()).setNanos(conflict.detectedAt().getNano()))
        .build();
  }

  private static String encodeToken(OffsetDateTime detectedAt, UUID conflictId) {
    String text = "p1." + detectedAt.toInstant().getEpochSecond() + "." + detectedAt.getNano() + "." + conflictId;
    return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }

  private static ConflictQueue.After decodeToken(String token) {
    try {
      String[] parts = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.US_ASCII).split("\\.");
      if (parts.length != 4 || !parts[0].equals("p1")) {
        return null;
      }
      OffsetDateTime at = java.time.Instant.ofEpochSecond(Long.parseLong(parts[1]), Long.parseLong(parts[2]))
          .atOffset(java.time.ZoneOffset.UTC);
      return new ConflictQueue.After(at, UUID.fromString(parts[3]));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}

package io.deltasync.server.write;

import com.google.protobuf.Struct;
import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.changefeed.Subscriptions;
import io.deltasync.server.error.Errors;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.server.store.ConflictQueue;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Expected;
import io.deltasync.server.store.Json;
import io.deltasync.server.store.QueuedConflict;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.store.WriteTransaction;
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
  private final long pageBudget;
  private final Runnable committed;

  /**
   * Creates the service.
   *
   * @param maxPageSize the default and largest number of conflicts in one page
   * @param maxMessageBytes the largest message a client accepts; a page stays below it
   * @param committed runs after a resolution commits (wakes the live feeds, as after a push)
   */
  public ManualResolution(SyncStore store, ConflictQueue queue, int maxDataBytes, int maxPageSize,
      int maxMessageBytes, Runnable committed) {
    this.committed = committed;
    this.store = store;
    this.queue = queue;
    this.validator = DeltaValidator.forDocuments(maxDataBytes);
    this.maxPageSize = maxPageSize;
    // The budget Pull and the stream cut their pages by.
    this.pageBudget = MessageBudget.of(maxMessageBytes);
  }

  /** A page of open conflicts, oldest first. */
  public ListConflictsResponse list(ListConflictsRequest request) {
    return list(request, io.deltasync.server.store.ScopeSet.ALL, request.getClientId());
  }

  /**
   * A page of open conflicts in the {@code readable} scopes, oldest first; {@code clientId} is the request's client
   * filter as the server stores client ids (empty = all).
   */
  public ListConflictsResponse list(ListConflictsRequest request, io.deltasync.server.store.ScopeSet readable,
      String clientId) {
    List<FieldViolation> violations = new ArrayList<>();
    if (request.getPageSize() < 0) {
      violations.add(Errors.violation("page_size", request.getPageSize() + " (expected: >= 0)"));
    }
    if (!request.getScope().isEmpty()) {
      Subscriptions.checkScope("scope", request.getScope(), violations);
    }
    if (!request.getEntityType().isEmpty()) {
      Subscriptions.checkEntityType("entity_type", request.getEntityType(), violations);
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
    List<ConflictQueue.Listed> page = queue.listOpen(request.getScope(), request.getEntityType(),
        clientId, after, pageSize + 1, readable);
    ListConflictsResponse.Builder response = ListConflictsResponse.newBuilder();
    long bytes = 0;
    for (int i = 0; i < Math.min(pageSize, page.size()); i++) {
      // Each conflict holds two documents (the client's and the server's), so a page counted in conflicts alone
      // could exceed what a client accepts: it is cut by bytes too, always keeping at least one conflict (one fits:
      // documents are bounded well below the message size).
      Conflict conflict = toProto(page.get(i));
      int size = conflict.getSerializedSize() + 8;
      if (i > 0 && bytes + size > pageBudget) {
        return response.setNextPageToken(tokenAfter(page.get(i - 1).conflict())).build();
      }
      response.addConflicts(conflict);
      bytes += size;
    }
    if (page.size() > pageSize) {
      response.setNextPageToken(tokenAfter(page.get(pageSize - 1).conflict()));
    }
    return response.build();
  }

  private static String tokenAfter(QueuedConflict last) {
    return encodeToken(last.detectedAt(), last.conflictId());
  }

  /** Resolves one conflict and returns the entity after the resolution. */
  public Entity resolve(ResolveConflictRequest request) {
    return resolve(request, io.deltasync.server.store.ScopeSet.ALL, scope -> { });
  }

  /**
   * Resolves one conflict of a {@code readable} scope (others are CONFLICT_NOT_FOUND, as if absent) after
   * {@code requireWritable} accepted its scope (it throws to refuse), and returns the entity after the resolution.
   */
  public Entity resolve(ResolveConflictRequest request, io.deltasync.server.store.ScopeSet readable,
      java.util.function.Consumer<String> requireWritable) {
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
    if (request.getBaseRowVersion() < 0) {
      violations.add(Errors.violation("base_row_version", request.getBaseRowVersion() + " (expected: >= 0; 0 "
          + "resolves against the entity as it is now)"));
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
    Entity result = store.inTransaction(tx -> {
      QueuedConflict conflict = tx.lockConflict(id).filter(c -> readable.contains(c.key().scope()))
          .orElseThrow(() -> new DeltaSyncException(Code.NOT_FOUND, ErrorReason.ERROR_REASON_CONFLICT_NOT_FOUND,
              "no conflict " + id));
      requireWritable.accept(conflict.key().scope());
      if (conflict.resolvedAt() != null) {
        throw new DeltaSyncException(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_CONFLICT_ALREADY_RESOLVED,
            "conflict " + id + " was already resolved at " + conflict.resolvedAt());
      }
      EntityKey key = conflict.key();
      // Locked before the other open conflicts are counted, so that a conflict queued meanwhile is either counted
      // here or waits for this resolution's new version (and is decided again on it).
      Entity current = tx.entities().lock(key, new Expected(0, "")).orElseThrow(() -> new DeltaSyncException(
          Code.NOT_FOUND, ErrorReason.ERROR_REASON_ENTITY_NOT_FOUND, "the entity of conflict " + id
              + " no longer exists"));
      if (request.getBaseRowVersion() != 0 && current.getRowVersion() != request.getBaseRowVersion()) {
        throw stale(current, request.getBaseRowVersion());
      }
      tx.closeConflict(id, resolutionName(request.getChoice()));
      WriteTransaction.OpenConflicts stillOpen = tx.openConflicts(key, WriteService.SUMMARY_IDS);
      String syncStatus = stillOpen.count() == 0 ? "synced" : "conflict";
      String conflictData = stillOpen.count() == 0 ? null : Json.toJson(remaining(tx, stillOpen));
      Delta delta = conflict.delta();
      String newData;
      boolean deleted;
      switch (request.getChoice()) {
        case RESOLUTION_CHOICE_TAKE_SERVER -> {
          newData = null;  // data and liveness stay as they are
          deleted = current.getIsDeleted();
        }
        case RESOLUTION_CHOICE_TAKE_CLIENT -> {
          deleted = delta.getOperation() == Operation.OPERATION_DELETE;
          newData = deleted ? Json.toJson(current.getData()) : Json.toJson(delta.getData());
        }
        default -> {
          newData = chosenData;
          deleted = false;
        }
      }
      tx.identifyWriter(RESOLVER, "resolve:" + id, System.currentTimeMillis() * 1_000);
      Entity resolved = tx.entities().writeConflictState(key, new Expected(current.getRowVersion(), ""),
          syncStatus, conflictData, newData, deleted).orElseThrow(() -> stale(current, current.getRowVersion()));
      return resolved;
    });
    committed.run();
    return result;
  }

  private static DeltaSyncException stale(Entity current, long base) {
    return new DeltaSyncException(Errors.status(Code.ABORTED, ErrorReason.ERROR_REASON_VERSION_CONFLICT,
        "the entity changed since the resolution was prepared: base_row_version " + base + ", current "
            + current.getRowVersion() + "; look at it again and resolve against the current version (or send "
            + "base_row_version 0 to resolve whatever the entity holds now)",
        Map.of("current_row_version", Long.toString(current.getRowVersion()), "current_etag", current.getEtag())));
  }

  private static String resolutionName(ResolutionChoice choice) {
    return switch (choice) {
      case RESOLUTION_CHOICE_TAKE_SERVER -> "take_server";
      case RESOLUTION_CHOICE_TAKE_CLIENT -> "take_client";
      default -> "use_data";
    };
  }

  /** conflict_data once one of several open conflicts is resolved: the summary, the newest still open in detail. */
  private static Struct remaining(WriteTransaction tx, WriteTransaction.OpenConflicts stillOpen) {
    UUID newest = stillOpen.newestIds().getLast();
    QueuedConflict detail = tx.readConflict(newest).orElseThrow();  // not locked: see readConflict
    return WriteService.conflictData(stillOpen, newest, detail.clientId(), detail.delta());
  }

  private static Conflict toProto(ConflictQueue.Listed listed) {
    QueuedConflict conflict = listed.conflict();
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
        .setCurrentRowVersion(listed.currentRowVersion())
        .setCurrentEtag(listed.currentEtag())
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

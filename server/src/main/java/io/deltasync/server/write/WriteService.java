package io.deltasync.server.write;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.EntityStore;
import io.deltasync.server.store.Expected;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.store.WriteTransaction;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Operation;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies batches of deltas: each delta is validated, then applied in its own transaction together with its
 * idempotency record and (through the trigger) its change-log entry, and gets its own result. The one
 * implementation behind both the unary Push and the Sync stream.
 */
public final class WriteService {
  private static final Logger log = LoggerFactory.getLogger(WriteService.class);

  private final SyncStore store;
  private final DeltaValidator validator;

  /** Creates the service; {@code maxDataBytes} bounds one delta's document as JSON. */
  public WriteService(SyncStore store, int maxDataBytes) {
    this.store = store;
    this.validator = new DeltaValidator(maxDataBytes);
  }

  /** Checks a client id; returns the violations (empty when valid). */
  public static List<FieldViolation> checkClientId(String field, String clientId) {
    return DeltaValidator.checkClientId(field, clientId);
  }

  /** Whether a value is a well-formed entity type. */
  public static boolean isEntityType(String value) {
    return DeltaValidator.isEntityType(value);
  }

  /** Whether a value is a well-formed scope. */
  public static boolean isScope(String value) {
    return DeltaValidator.isScope(value);
  }

  /**
   * Applies the deltas in order and returns one result per delta. A bad delta is rejected alone; once the
   * database is found unreachable, the remaining deltas are rejected as UNAVAILABLE without being tried, because
   * later deltas may depend on earlier ones and the client retries them all (safely, by delta_id).
   */
  public List<DeltaResult> push(String clientId, List<Delta> deltas) {
    List<DeltaResult> results = new ArrayList<>(deltas.size());
    boolean databaseDown = false;
    for (int i = 0; i < deltas.size(); i++) {
      Delta delta = deltas.get(i);
      DeltaResult result = databaseDown ? unavailable(delta) : apply(clientId, delta, "deltas[" + i + "]");
      databaseDown |= isUnavailable(result);
      results.add(result);
    }
    return results;
  }

  private DeltaResult apply(String clientId, Delta delta, String field) {
    if (delta.getEditsCount() > 0) {
      return rejected(delta, Errors.status(Code.UNIMPLEMENTED, ErrorReason.ERROR_REASON_NOT_IMPLEMENTED,
          field + ".edits: operational-transform edits are not supported by this server version yet; send the "
              + "whole document in data"));
    }
    DeltaValidator.Outcome outcome = validator.validate(delta, field);
    if (!outcome.isValid()) {
      return rejected(delta, Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT,
          outcome.violations()));
    }
    ValidDelta valid = outcome.valid();
    byte[] digest = digest(delta);
    try {
      return store.inTransaction(tx -> applyOnce(tx, clientId, valid, digest));
    } catch (RuntimeException e) {
      if (SyncStore.isUnavailable(e)) {
        log.warn("Database unavailable while applying delta {} of client {}: {}", delta.getDeltaId(), clientId,
            e.toString());
        return unavailable(delta);
      }
      log.error("Unexpected failure applying delta {} of client {}", delta.getDeltaId(), clientId, e);
      return rejected(delta, Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL,
          "internal error while applying the delta; it was not applied"));
    }
  }

  private static DeltaResult applyOnce(WriteTransaction tx, String clientId, ValidDelta valid, byte[] digest) {
    Delta delta = valid.delta();
    WriteTransaction.Claim claim = tx.claimDelta(clientId, delta.getDeltaId(), digest);
    if (claim instanceof WriteTransaction.AlreadyApplied applied) {
      if (!applied.sameContent()) {
        return rejected(delta, Errors.status(Code.ALREADY_EXISTS, ErrorReason.ERROR_REASON_DELTA_ID_REUSED,
            "delta_id '" + delta.getDeltaId() + "' was already used by this client for a different delta; "
                + "every delta needs its own id (retries reuse the id with identical content)"));
      }
      return replay(applied.result());
    }
    tx.identifyWriter(clientId, delta.getDeltaId());
    DeltaResult result = write(tx.entities(), clientId, valid);
    tx.recordResult(clientId, delta.getDeltaId(), result.toByteArray());
    return result;
  }

  /**
   * The decision table of this version (conflict policies come later; until then every miss is reported):
   * <pre>
   *            | absent      | live, base matches | live, base stale   | tombstone, base matches | tombstone, stale
   *   CREATE   | insert      | conflict EXISTS    | conflict EXISTS    | create again            | conflict DELETED
   *   UPDATE   | NOT_FOUND   | update             | conflict VERSION   | conflict DELETED        | conflict DELETED
   *   DELETE   | NOT_FOUND   | tombstone          | conflict VERSION   | applied, no change      | applied, no change
   * </pre>
   * Every write is a single compare-and-set statement; the follow-up read only describes a miss.
   */
  private static DeltaResult write(EntityStore entities, String clientId, ValidDelta valid) {
    Delta delta = valid.delta();
    EntityKey key = valid.key();
    Expected base = valid.base();
    return switch (delta.getOperation()) {
      case OPERATION_CREATE -> {
        Optional<Entity> created = entities.insert(key, valid.dataJson(), clientId);
        if (created.isEmpty() && !base.isEmpty()) {
          created = entities.recreate(key, base, valid.dataJson(), clientId);
        }
        yield created.map(entity -> applied(delta, entity)).orElseGet(() -> createMissed(delta, entities, key));
      }
      case OPERATION_UPDATE -> entities.replaceData(key, base, valid.dataJson(), clientId)
          .map(entity -> applied(delta, entity))
          .orElseGet(() -> writeMissed(delta, entities, key));
      case OPERATION_DELETE -> entities.markDeleted(key, base, clientId)
          .map(entity -> applied(delta, entity))
          .orElseGet(() -> writeMissed(delta, entities, key));
      default -> throw new IllegalStateException("validated delta with operation " + delta.getOperation());
    };
  }

  private static DeltaResult createMissed(Delta delta, EntityStore entities, EntityKey key) {
    Optional<Entity> found = entities.find(key);
    if (found.isEmpty()) {
      // The insert met a row that was purged between the two statements: rare, and safe to retry.
      return rejected(delta, Errors.status(Code.ABORTED, ErrorReason.ERROR_REASON_VERSION_CONFLICT,
          "the entity changed concurrently; retry the delta"));
    }
    Entity current = found.get();
    if (current.getIsDeleted()) {
      return conflict(delta, current, ErrorReason.ERROR_REASON_ENTITY_DELETED, "the entity was deleted at "
          + "row_version " + current.getRowVersion() + "; to create it again, send OPERATION_CREATE with "
          + "base_row_version " + current.getRowVersion());
    }
    return conflict(delta, current, ErrorReason.ERROR_REASON_ENTITY_EXISTS, "the entity already exists at "
        + "row_version " + current.getRowVersion());
  }

  private static DeltaResult writeMissed(Delta delta, EntityStore entities, EntityKey key) {
    Optional<Entity> found = entities.find(key);
    if (found.isEmpty()) {
      return rejected(delta, Errors.status(Code.NOT_FOUND, ErrorReason.ERROR_REASON_ENTITY_NOT_FOUND,
          "no entity " + key.entityType() + "/" + key.entityId() + " in scope " + key.scope()));
    }
    Entity current = found.get();
    if (current.getIsDeleted()) {
      if (delta.getOperation() == Operation.OPERATION_DELETE) {
        return applied(delta, current);  // already gone: the client's intent holds, nothing to change
      }
      return conflict(delta, current, ErrorReason.ERROR_REASON_ENTITY_DELETED,
          "the entity was deleted at row_version " + current.getRowVersion());
    }
    return conflict(delta, current, ErrorReason.ERROR_REASON_VERSION_CONFLICT, "base is "
        + describeBase(delta) + " but the entity is at row_version " + current.getRowVersion() + " (etag "
        + current.getEtag() + ")");
  }

  private static String describeBase(Delta delta) {
    if (delta.getBaseRowVersion() > 0) {
      return "row_version " + delta.getBaseRowVersion()
          + (delta.getBaseEtag().isEmpty() ? "" : " with etag " + delta.getBaseEtag());
    }
    return "etag " + delta.getBaseEtag();
  }

  private static DeltaResult applied(Delta delta, Entity entity) {
    return DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_APPLIED)
        .setEntity(entity).build();
  }

  private static DeltaResult conflict(Delta delta, Entity current, ErrorReason reason, String message) {
    return DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_CONFLICT)
        .setEntity(current)
        .setError(Errors.status(Code.ABORTED, reason, message, Map.of(
            "current_row_version", Long.toString(current.getRowVersion()),
            "current_etag", current.getEtag())))
        .build();
  }

  private static DeltaResult rejected(Delta delta, com.google.rpc.Status error) {
    return DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
        .setError(error).build();
  }

  private static DeltaResult unavailable(Delta delta) {
    return rejected(delta, Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_DATABASE_UNAVAILABLE,
        "the database is unavailable; the delta was not applied: retry it (same delta_id) with backoff"));
  }

  private static boolean isUnavailable(DeltaResult result) {
    return result.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED
        && result.getError().getCode() == Code.UNAVAILABLE.getNumber();
  }

  private static DeltaResult replay(byte[] stored) {
    try {
      return DeltaResult.parseFrom(stored).toBuilder().setReplayed(true).build();
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("stored result is not a DeltaResult", e);
    }
  }

  /** SHA-256 of the delta's deterministic encoding (map entries sorted), to tell a retry from a reused id. */
  static byte[] digest(Delta delta) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(delta.getSerializedSize());
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.useDeterministicSerialization();
      delta.writeTo(out);
      out.flush();
      return MessageDigest.getInstance("SHA-256").digest(bytes.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }
}

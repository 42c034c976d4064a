package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.ENTITY;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.v1.Change;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.SyncStatus;
import java.time.OffsetDateTime;
import java.util.List;
import org.jooq.JSONB;
import org.jooq.Record;

/** Maps rows of entity and change_log to their wire form. */
final class Rows {
  private static final JsonFormat.Printer EDIT_PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser EDIT_PARSER = JsonFormat.parser();

  private Rows() {}

  /**
   * An entity as the write path reads or returns it. A conflict_data the server cannot carry (written by plain SQL
   * before the database guarded it, V12) is left out of the answer rather than failing every write to the entity;
   * a document that cannot be carried still fails (the database refuses new ones, V6).
   */
  static Entity written(Record row) {
    try {
      return entity(row);
    } catch (RuntimeException e) {
      Entity without = entity(row.get(ENTITY.SCOPE), row.get(ENTITY.ENTITY_TYPE), row.get(ENTITY.ENTITY_ID),
          row.get(ENTITY.DATA), row.get(ENTITY.ROW_VERSION), row.get(ENTITY.ETAG), row.get(ENTITY.LAST_MODIFIED_AT),
          row.get(ENTITY.LAST_MODIFIED_BY), row.get(ENTITY.SYNC_STATUS), null, row.get(ENTITY.IS_DELETED),
          row.get(ENTITY.CREATED_AT));
      org.slf4j.LoggerFactory.getLogger(Rows.class).warn("Entity {}/{} in scope {}: conflict_data left out of a "
          + "write's answer: {}", without.getEntityType(), without.getEntityId(), without.getScope(), e.getMessage());
      return without;
    }
  }

  /**
   * An entity row read through the driver (the claim-and-write statements of {@link SingleWrites} and {@link
   * PlainWrites}), with the same leniency about conflict_data as {@link #written(Record)}.
   */
  static Entity written(java.sql.ResultSet row) throws java.sql.SQLException {
    return written(row, null);
  }

  /**
   * As {@link #written(java.sql.ResultSet)}, for a row that may leave out its data because the write stored the
   * delta's own document (schema V23, "as sent"): when the row's data is NULL and {@code sentDocument} is given, the
   * entity's data is that document as jsonb reads it back ({@link Json#asStored}), which is exactly what the row's
   * data would have read as.
   */
  static Entity written(java.sql.ResultSet row, com.google.protobuf.Struct sentDocument)
      throws java.sql.SQLException {
    String scope = row.getString("scope");
    String type = row.getString("entity_type");
    String id = row.getString("entity_id");
    String dataJson = row.getString("data");
    long rowVersion = row.getLong("row_version");
    String etag = row.getString("etag");
    OffsetDateTime modifiedAt = row.getObject("last_modified_at", OffsetDateTime.class);
    String modifiedBy = row.getString("last_modified_by");
    String syncStatus = row.getString("sync_status");
    JSONB conflictData = jsonb(row.getString("conflict_data"));
    boolean deleted = row.getBoolean("is_deleted");
    OffsetDateTime createdAt = row.getObject("created_at", OffsetDateTime.class);
    com.google.protobuf.Struct data = deleted ? null : dataJson != null ? carried(JSONB.valueOf(dataJson), "data")
        : sentDocument != null ? Json.asStored(sentDocument) : null;
    try {
      return entity(scope, type, id, data, rowVersion, etag, modifiedAt, modifiedBy, syncStatus, conflictData,
          deleted, createdAt);
    } catch (RuntimeException e) {
      Entity without = entity(scope, type, id, data, rowVersion, etag, modifiedAt, modifiedBy, syncStatus, null,
          deleted, createdAt);
      org.slf4j.LoggerFactory.getLogger(Rows.class).warn("Entity {}/{} in scope {}: conflict_data left out of a "
          + "write's answer: {}", type, id, scope, e.getMessage());
      return without;
    }
  }

  private static JSONB jsonb(String json) {
    return json == null ? null : JSONB.valueOf(json);
  }

  static Entity entity(Record row) {
    return entity(row.get(ENTITY.SCOPE), row.get(ENTITY.ENTITY_TYPE), row.get(ENTITY.ENTITY_ID), row.get(ENTITY.DATA),
        row.get(ENTITY.ROW_VERSION), row.get(ENTITY.ETAG), row.get(ENTITY.LAST_MODIFIED_AT),
        row.get(ENTITY.LAST_MODIFIED_BY), row.get(ENTITY.SYNC_STATUS), row.get(ENTITY.CONFLICT_DATA),
        row.get(ENTITY.IS_DELETED), row.get(ENTITY.CREATED_AT));
  }

  static Change change(Record row) {
    Entity entity = entity(row.get(CHANGE_LOG.SCOPE), row.get(CHANGE_LOG.ENTITY_TYPE), row.get(CHANGE_LOG.ENTITY_ID),
        row.get(CHANGE_LOG.DATA), row.get(CHANGE_LOG.ROW_VERSION), row.get(CHANGE_LOG.ETAG),
        row.get(CHANGE_LOG.LAST_MODIFIED_AT), row.get(CHANGE_LOG.LAST_MODIFIED_BY), row.get(CHANGE_LOG.SYNC_STATUS),
        row.get(CHANGE_LOG.CONFLICT_DATA), row.get(CHANGE_LOG.IS_DELETED), row.get(CHANGE_LOG.CREATED_AT));
    return Change.newBuilder()
        .setOperation(operation(row.get(CHANGE_LOG.OPERATION)))
        .setEntity(entity)
        .setClientId(nullToEmpty(row.get(CHANGE_LOG.CLIENT_ID)))
        .setDeltaId(nullToEmpty(row.get(CHANGE_LOG.DELTA_ID)))
        .addAllEdits(row.get(CHANGE_LOG.EDITS) == null ? List.of() : edits(row.get(CHANGE_LOG.EDITS)))
        .build();
  }

  /**
   * A change-log row read through the driver, its documents as jsonb prints them, with its cursor ({@link
   * BoundedReads}); the documents as wire bytes (see {@link #entity(String, String, String, String, long, String,
   * OffsetDateTime, String, String, String, boolean, OffsetDateTime, DocumentWire)}).
   */
  static Change change(String scope, String type, String id, String operation, long rowVersion, String etag,
      String data, String syncStatus, String conflictData, boolean deleted, OffsetDateTime modifiedAt,
      String modifiedBy, OffsetDateTime createdAt, String clientId, String deltaId, String edits, String cursor,
      DocumentWire wire) {
    Entity entity = entity(scope, type, id, data, rowVersion, etag, modifiedAt, modifiedBy, syncStatus,
        conflictData, deleted, createdAt, wire);
    return Change.newBuilder()
        .setOperation(operation(operation))
        .setEntity(entity)
        .setClientId(nullToEmpty(clientId))
        .setDeltaId(nullToEmpty(deltaId))
        .addAllEdits(edits == null ? List.of() : edits(JSONB.valueOf(edits)))
        .setCursor(cursor)
        .build();
  }

  /**
   * An entity row read through the driver, its documents as jsonb prints them ({@link BoundedReads}). The documents
   * are carried as their wire bytes ({@link DocumentWire}: the entity's unknown fields under the documents' own field
   * numbers), so this entity's {@code getData()} is empty on the server; its serialized form, which is all the stream
   * sends, parses to exactly the entity the tree path builds. A row the transcoder does not apply to takes the tree
   * path, and fails or is refused as before.
   */
  static Entity entity(String scope, String type, String id, String data, long rowVersion, String etag,
      OffsetDateTime modifiedAt, String modifiedBy, String syncStatus, String conflictData, boolean deleted,
      OffsetDateTime createdAt, DocumentWire wire) {
    com.google.protobuf.ByteString dataBytes = deleted || data == null ? null : wire.struct(data);
    com.google.protobuf.ByteString conflictBytes = conflictData == null ? null : wire.struct(conflictData);
    if ((dataBytes == null && !deleted && data != null) || (conflictBytes == null && conflictData != null)) {
      return entity(scope, type, id, jsonb(data), rowVersion, etag, modifiedAt, modifiedBy, syncStatus,
          jsonb(conflictData), deleted, createdAt);
    }
    Entity.Builder entity = entityFields(scope, type, id, rowVersion, etag, modifiedAt, modifiedBy, syncStatus,
        deleted, createdAt);
    if (dataBytes != null || conflictBytes != null) {
      entity.setUnknownFields(DocumentWire.documents(dataBytes, Entity.DATA_FIELD_NUMBER, conflictBytes,
          Entity.CONFLICT_DATA_FIELD_NUMBER));
    }
    return entity.build();
  }

  /** As {@link #degradedChange(Record, com.google.rpc.Status)}, for a row read through the driver. */
  static Change degradedChange(String scope, String type, String id, String operation, Long rowVersion,
      String etag, OffsetDateTime modifiedAt, String modifiedBy, String syncStatus, Boolean deleted,
      OffsetDateTime createdAt, String clientId, String deltaId, com.google.rpc.Status why) {
    Entity entity = degradedEntity(scope, type, id, rowVersion, etag, modifiedAt, modifiedBy, syncStatus, deleted,
        createdAt);
    return Change.newBuilder()
        .setOperation(orUnspecified(() -> operation(operation), Operation.OPERATION_UNSPECIFIED))
        .setEntity(entity)
        .setClientId(nullToEmpty(clientId))
        .setDeltaId(nullToEmpty(deltaId))
        .setDegraded(why)
        .build();
  }

  /** As {@link #degradedCreate(Record, com.google.rpc.Status)}, for a row read through the driver. */
  static Change degradedCreate(String scope, String type, String id, Long rowVersion, String etag,
      OffsetDateTime modifiedAt, String modifiedBy, String syncStatus, Boolean deleted, OffsetDateTime createdAt,
      com.google.rpc.Status why) {
    Entity entity = degradedEntity(scope, type, id, rowVersion, etag, modifiedAt, modifiedBy, syncStatus, deleted,
        createdAt);
    return Change.newBuilder().setOperation(Operation.OPERATION_CREATE).setEntity(entity).setDegraded(why).build();
  }

  /**
   * change_log.edits as JSON: an array of EditOperation messages in their proto3 JSON form. JsonFormat prints one
   * message, not a list, so the array is joined here; a set oneof member is printed even at its default value (an
   * index of 0), so nothing is lost.
   */
  static String editsJson(List<EditOperation> edits) {
    StringBuilder json = new StringBuilder("[");
    try {
      for (EditOperation edit : edits) {
        json.append(json.length() > 1 ? "," : "").append(EDIT_PRINTER.print(edit));
      }
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("edits cannot be printed as JSON: " + e.getMessage(), e);
    }
    return json.append(']').toString();
  }

  /** Parses change_log.edits (see {@link #editsJson}); the array is parsed as Change's repeated edits field. */
  static List<EditOperation> edits(JSONB json) {
    Change.Builder holder = Change.newBuilder();
    try {
      EDIT_PARSER.merge("{\"edits\":" + json.data() + "}", holder);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("change_log.edits is not a JSON array of EditOperation: " + e.getMessage(), e);
    }
    return holder.getEditsList();
  }

  private static Entity entity(String scope, String type, String id, JSONB data, long rowVersion, String etag,
      OffsetDateTime modifiedAt, String modifiedBy, String syncStatus, JSONB conflictData, boolean deleted,
      OffsetDateTime createdAt) {
    return entity(scope, type, id, deleted || data == null ? null : carried(data, "data"), rowVersion, etag,
        modifiedAt, modifiedBy, syncStatus, conflictData, deleted, createdAt);
  }

  private static Entity entity(String scope, String type, String id, com.google.protobuf.Struct data,
      long rowVersion, String etag, OffsetDateTime modifiedAt, String modifiedBy, String syncStatus,
      JSONB conflictData, boolean deleted, OffsetDateTime createdAt) {
    Entity.Builder entity = entityFields(scope, type, id, rowVersion, etag, modifiedAt, modifiedBy, syncStatus,
        deleted, createdAt);
    if (!deleted && data != null) {
      entity.setData(data);
    }
    if (conflictData != null) {
      entity.setConflictData(carried(conflictData, "conflict_data"));
    }
    return entity.build();
  }

  private static Entity.Builder entityFields(String scope, String type, String id, long rowVersion, String etag,
      OffsetDateTime modifiedAt, String modifiedBy, String syncStatus, boolean deleted, OffsetDateTime createdAt) {
    return Entity.newBuilder()
        .setScope(scope)
        .setEntityType(type)
        .setEntityId(id)
        .setRowVersion(rowVersion)
        .setEtag(etag)
        .setLastModifiedAt(timestamp(modifiedAt))
        .setLastModifiedBy(modifiedBy)
        .setSyncStatus(syncStatus(syncStatus))
        .setIsDeleted(deleted)
        .setCreatedAt(timestamp(createdAt));
  }

  /** A stored document as clients receive it; one they could not parse (too deep) is refused here. */
  private static com.google.protobuf.Struct carried(JSONB json, String column) {
    com.google.protobuf.Struct document = Json.toStruct(json);
    int depth = Json.depth(document);
    if (depth > Json.MAX_DEPTH) {
      throw new IllegalStateException(column + " nests " + depth + " levels (expected: <= " + Json.MAX_DEPTH
          + "; clients' protobuf parsers refuse deeper messages)");
    }
    return document;
  }

  /**
   * A change-log row delivered without its documents (see {@code Change.degraded}): everything that identifies and
   * versions the change, read field by field so that whatever made the row unreadable cannot fail this too.
   */
  static Change degradedChange(Record row, com.google.rpc.Status why) {
    Entity entity = degradedEntity(row.get(CHANGE_LOG.SCOPE), row.get(CHANGE_LOG.ENTITY_TYPE),
        row.get(CHANGE_LOG.ENTITY_ID), row.get(CHANGE_LOG.ROW_VERSION), row.get(CHANGE_LOG.ETAG),
        row.get(CHANGE_LOG.LAST_MODIFIED_AT), row.get(CHANGE_LOG.LAST_MODIFIED_BY), row.get(CHANGE_LOG.SYNC_STATUS),
        row.get(CHANGE_LOG.IS_DELETED), row.get(CHANGE_LOG.CREATED_AT));
    return Change.newBuilder()
        .setOperation(orUnspecified(() -> operation(row.get(CHANGE_LOG.OPERATION)), Operation.OPERATION_UNSPECIFIED))
        .setEntity(entity)
        .setClientId(nullToEmpty(row.get(CHANGE_LOG.CLIENT_ID)))
        .setDeltaId(nullToEmpty(row.get(CHANGE_LOG.DELTA_ID)))
        .setDegraded(why)
        .build();
  }

  /** An entity row delivered as a degraded initial-state change (an OPERATION_CREATE without documents). */
  static Change degradedCreate(Record row, com.google.rpc.Status why) {
    Entity entity = degradedEntity(row.get(ENTITY.SCOPE), row.get(ENTITY.ENTITY_TYPE), row.get(ENTITY.ENTITY_ID),
        row.get(ENTITY.ROW_VERSION), row.get(ENTITY.ETAG), row.get(ENTITY.LAST_MODIFIED_AT),
        row.get(ENTITY.LAST_MODIFIED_BY), row.get(ENTITY.SYNC_STATUS), row.get(ENTITY.IS_DELETED),
        row.get(ENTITY.CREATED_AT));
    return Change.newBuilder().setOperation(Operation.OPERATION_CREATE).setEntity(entity).setDegraded(why).build();
  }

  /** The same change without its documents and edits, for one that is too large to send. */
  static Change withoutDocuments(Change change, com.google.rpc.Status why) {
    // The unknown fields are the documents as wire bytes (DocumentWire), if the row was read with them.
    return change.toBuilder().setEntity(change.getEntity().toBuilder().clearData().clearConflictData()
            .setUnknownFields(com.google.protobuf.UnknownFieldSet.getDefaultInstance()))
        .clearEdits().setDegraded(why).build();
  }

  private static Entity degradedEntity(String scope, String type, String id, Long rowVersion, String etag,
      OffsetDateTime modifiedAt, String modifiedBy, String syncStatus, Boolean deleted, OffsetDateTime createdAt) {
    Entity.Builder entity = Entity.newBuilder()
        .setScope(nullToEmpty(scope))
        .setEntityType(nullToEmpty(type))
        .setEntityId(nullToEmpty(id))
        .setRowVersion(rowVersion == null ? 0 : rowVersion)
        .setEtag(nullToEmpty(etag))
        .setLastModifiedBy(nullToEmpty(modifiedBy))
        .setSyncStatus(orUnspecified(() -> syncStatus(syncStatus), SyncStatus.SYNC_STATUS_UNSPECIFIED))
        .setIsDeleted(Boolean.TRUE.equals(deleted));
    // A time outside protobuf's Timestamp range (another writer's 'infinity', year 10000) is left out here.
    if (modifiedAt != null && representable(modifiedAt)) {
      entity.setLastModifiedAt(timestamp(modifiedAt));
    }
    if (createdAt != null && representable(createdAt)) {
      entity.setCreatedAt(timestamp(createdAt));
    }
    return entity.build();
  }

  private static <T> T orUnspecified(java.util.function.Supplier<T> value, T unspecified) {
    try {
      return value.get();
    } catch (RuntimeException e) {
      return unspecified;
    }
  }

  // PostgreSQL keeps microseconds; OffsetDateTime carries them into nanos exactly.
  static Timestamp timestamp(OffsetDateTime time) {
    return Timestamp.newBuilder().setSeconds(time.toEpochSecond()).setNanos(time.getNano()).build();
  }

  /**
   * Fails for a time outside protobuf's Timestamp range (years 1 to 9999: PostgreSQL's 'infinity' and BC dates are
   * outside it), so that the stream's reads deliver such a change degraded (SyncStore.carried), without that time.
   */
  static void requireRepresentable(OffsetDateTime... times) {
    for (OffsetDateTime time : times) {
      if (time != null && !representable(time)) {
        throw new IllegalArgumentException("a time outside the range of google.protobuf.Timestamp: " + time);
      }
    }
  }

  static boolean representable(OffsetDateTime time) {
    return com.google.protobuf.util.Timestamps.isValid(time.toEpochSecond(), time.getNano());
  }

  private static SyncStatus syncStatus(String value) {
    return switch (value) {
      case "synced" -> SyncStatus.SYNC_STATUS_SYNCED;
      case "pending" -> SyncStatus.SYNC_STATUS_PENDING;
      case "conflict" -> SyncStatus.SYNC_STATUS_CONFLICT;
      default -> throw new IllegalStateException("sync_status: " + value + " (expected: synced, pending, conflict)");
    };
  }

  private static Operation operation(String value) {
    return switch (value) {
      case "create" -> Operation.OPERATION_CREATE;
      case "update" -> Operation.OPERATION_UPDATE;
      case "delete" -> Operation.OPERATION_DELETE;
      default -> throw new IllegalStateException("operation: " + value + " (expected: create, update, delete)");
    };
  }

  private static String nullToEmpty(String value) {
    return value == null ? "" : value;
  }
}

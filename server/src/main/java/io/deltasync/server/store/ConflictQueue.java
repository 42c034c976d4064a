package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CONFLICT;
import static io.deltasync.db.jooq.Tables.ENTITY;

import com.google.protobuf.InvalidProtocolBufferException;
import io.deltasync.db.jooq.tables.records.ConflictRecord;
import io.deltasync.v1.Delta;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** Reads of the manual resolution queue. */
public final class ConflictQueue {
  private final DSLContext dsl;

  /** Wraps the shared context. */
  public ConflictQueue(DSLContext dsl) {
    this.dsl = dsl;
  }

  /**
   * Where a page of the queue starts: after this (detected_at, conflict_id).
   *
   * @param detectedAt the last listed conflict's detection time
   * @param conflictId the last listed conflict's id
   */
  public record After(OffsetDateTime detectedAt, UUID conflictId) {}

  /**
   * An open conflict as listed: with the entity's version now, which is what a resolution is checked against.
   *
   * @param conflict the queued conflict
   * @param currentRowVersion the entity's row_version now (0 if the row is gone)
   * @param currentEtag the entity's etag now (empty if the row is gone)
   */
  public record Listed(QueuedConflict conflict, long currentRowVersion, String currentEtag) {}

  /** Open conflicts, oldest first, filtered (empty strings = no filter), after {@code after} (null = start). */
  public List<Listed> listOpen(String scope, String entityType, String clientId, After after, int limit) {
    return listOpen(scope, entityType, clientId, after, limit, ScopeSet.ALL);
  }

  /** As {@link #listOpen(String, String, String, After, int)}, only in the {@code readable} scopes. */
  public List<Listed> listOpen(String scope, String entityType, String clientId, After after, int limit,
      ScopeSet readable) {
    Condition condition = CONFLICT.RESOLVED_AT.isNull().and(ScopeSet.condition(readable, CONFLICT.SCOPE));
    if (!scope.isEmpty()) {
      condition = condition.and(CONFLICT.SCOPE.eq(scope));
    }
    if (!entityType.isEmpty()) {
      condition = condition.and(CONFLICT.ENTITY_TYPE.eq(entityType));
    }
    if (!clientId.isEmpty()) {
      condition = condition.and(CONFLICT.CLIENT_ID.eq(clientId));
    }
    if (after != null) {
      condition = condition.and(DSL.row(CONFLICT.DETECTED_AT, CONFLICT.CONFLICT_ID)
          .gt(after.detectedAt(), after.conflictId()));
    }
    return dsl.select(CONFLICT.asterisk(), ENTITY.ROW_VERSION, ENTITY.ETAG)
        .from(CONFLICT)
        .leftJoin(ENTITY).on(ENTITY.SCOPE.eq(CONFLICT.SCOPE), ENTITY.ENTITY_TYPE.eq(CONFLICT.ENTITY_TYPE),
            ENTITY.ENTITY_ID.eq(CONFLICT.ENTITY_ID))
        .where(condition)
        .orderBy(CONFLICT.DETECTED_AT, CONFLICT.CONFLICT_ID)
        .limit(limit)
        .fetch(row -> new Listed(conflict(row.into(CONFLICT)),
            row.get(ENTITY.ROW_VERSION) == null ? 0 : row.get(ENTITY.ROW_VERSION),
            row.get(ENTITY.ETAG) == null ? "" : row.get(ENTITY.ETAG)));
  }

  static QueuedConflict conflict(ConflictRecord row) {
    Delta delta;
    try {
      delta = Delta.parseFrom(row.getClientDelta());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("conflict " + row.getConflictId() + " holds no Delta", e);
    }
    return new QueuedConflict(row.getConflictId(), new EntityKey(row.getScope(), row.getEntityType(),
        row.getEntityId()), row.getClientId(), delta, row.getBaseRowVersion(), row.getServerRowVersion(),
        row.getServerData() == null ? null : row.getServerData().data(), row.getServerDeleted(),
        row.getDetectedAt(), row.getResolvedAt());
  }
}

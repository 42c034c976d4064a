package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.ENTITY;

import io.deltasync.db.jooq.tables.records.EntityRecord;
import io.deltasync.v1.Entity;
import java.util.Optional;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.JSONB;
import org.jooq.UpdateSetMoreStep;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;

/**
 * The generic store: entities as JSON documents in the {@code entity} table. The BEFORE trigger owns
 * {@code row_version}, {@code etag} and {@code last_modified_at}, so the values read back with RETURNING are the
 * ones every other reader will see; setting {@code row_version = row_version + 1} here too keeps the statement
 * honest on its own.
 */
final class JsonEntityStore implements EntityStore {
  private final DSLContext tx;

  JsonEntityStore(DSLContext tx) {
    this.tx = tx;
  }

  @Override
  public Optional<Entity> insert(EntityKey key, String dataJson, String modifiedBy) {
    return tx.insertInto(ENTITY)
        .set(ENTITY.SCOPE, key.scope())
        .set(ENTITY.ENTITY_TYPE, key.entityType())
        .set(ENTITY.ENTITY_ID, key.entityId())
        .set(ENTITY.DATA, JSONB.valueOf(dataJson))
        .set(ENTITY.LAST_MODIFIED_BY, modifiedBy)
        .onConflictDoNothing()
        .returning()
        .fetchOptional()
        .map(Rows::written);
  }

  @Override
  public Optional<Entity> recreate(EntityKey key, Expected base, String dataJson, String modifiedBy) {
    return compareAndSet(tx.update(ENTITY)
        .set(ENTITY.DATA, keepingExact(dataJson))
        .set(ENTITY.IS_DELETED, false)
        .set(ENTITY.SYNC_STATUS, "synced")
        .setNull(ENTITY.CONFLICT_DATA), key, base, true, modifiedBy);
  }

  @Override
  public Optional<Entity> replaceData(EntityKey key, Expected base, String dataJson, String modifiedBy) {
    return compareAndSet(tx.update(ENTITY).set(ENTITY.DATA, keepingExact(dataJson)), key, base, false, modifiedBy);
  }

  @Override
  public Optional<Entity> markDeleted(EntityKey key, Expected base, String modifiedBy) {
    return compareAndSet(tx.update(ENTITY).set(ENTITY.IS_DELETED, true), key, base, false, modifiedBy);
  }

  @Override
  public Optional<Entity> writeConflictState(EntityKey key, Expected base, String syncStatus,
      String conflictDataJson, String dataJson, boolean deleted) {
    var update = tx.update(ENTITY)
        .set(ENTITY.SYNC_STATUS, syncStatus)
        .set(ENTITY.CONFLICT_DATA, conflictDataJson == null ? null : JSONB.valueOf(conflictDataJson));
    if (dataJson != null) {
      update = update.set(ENTITY.DATA, keepingExact(dataJson)).set(ENTITY.IS_DELETED, deleted);
    }
    return update
        .set(ENTITY.ROW_VERSION, ENTITY.ROW_VERSION.plus(1))
        .where(identifies(key), matches(base))
        .returning()
        .fetchOptional()
        .map(Rows::written);
  }

  @Override
  public Optional<Entity> lock(EntityKey key, Expected base) {
    return tx.selectFrom(ENTITY).where(identifies(key), matches(base)).forNoKeyUpdate().fetchOptional()
        .map(Rows::written);
  }

  @Override
  public Entity recordConflictState(EntityKey key, String syncStatus, String conflictDataJson) {
    // The setting is on for this one statement only: a later write of the same transaction is a version again.
    bookkeeping("on");
    Entity entity = Rows.written(tx.update(ENTITY)
        .set(ENTITY.SYNC_STATUS, syncStatus)
        .set(ENTITY.CONFLICT_DATA, conflictDataJson == null ? null : JSONB.valueOf(conflictDataJson))
        .where(identifies(key))
        .returning()
        .fetchSingle());
    bookkeeping("");
    return entity;
  }

  private void bookkeeping(String value) {
    tx.select(DSL.function("set_config", String.class, DSL.inline("deltasync.bookkeeping"), DSL.inline(value),
        DSL.inline(true))).fetch();
  }

  /**
   * The new document, keeping every stored value the new one equals as a double (V8's deltasync_keep_exact): the
   * server computes documents as protobuf Structs, whose numbers are doubles, so without this an integer beyond
   * 2^53 written by plain SQL, or a number stored as 1.0, would be rewritten by a write that never touched it.
   * Done in SQL, on the row being updated, so that it holds for every writer of this store at no extra read.
   */
  private static Field<JSONB> keepingExact(String dataJson) {
    return DSL.field("deltasync_keep_exact({0}, {1})", SQLDataType.JSONB, ENTITY.DATA,
        DSL.val(JSONB.valueOf(dataJson), SQLDataType.JSONB));
  }

  /** Completes an update into one compare-and-set statement: version bump, the expectation, RETURNING. */
  private static Optional<Entity> compareAndSet(UpdateSetMoreStep<EntityRecord> update, EntityKey key,
      Expected base, boolean expectTombstone, String modifiedBy) {
    return update
        .set(ENTITY.ROW_VERSION, ENTITY.ROW_VERSION.plus(1))
        .set(ENTITY.LAST_MODIFIED_BY, modifiedBy)
        .where(identifies(key), matches(base), ENTITY.IS_DELETED.eq(expectTombstone))
        .returning()
        .fetchOptional()
        .map(Rows::written);
  }

  @Override
  public Optional<Entity> find(EntityKey key) {
    return tx.selectFrom(ENTITY).where(identifies(key)).fetchOptional().map(Rows::written);
  }

  private static Condition identifies(EntityKey key) {
    return ENTITY.SCOPE.eq(key.scope())
        .and(ENTITY.ENTITY_TYPE.eq(key.entityType()))
        .and(ENTITY.ENTITY_ID.eq(key.entityId()));
  }

  private static Condition matches(Expected base) {
    Condition condition = DSL.noCondition();
    if (base.rowVersion() != 0) {
      condition = condition.and(ENTITY.ROW_VERSION.eq(base.rowVersion()));
    }
    if (!base.etag().isEmpty()) {
      condition = condition.and(ENTITY.ETAG.eq(base.etag()));
    }
    return condition;
  }
}

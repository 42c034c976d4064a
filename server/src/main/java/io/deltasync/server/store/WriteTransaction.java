package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.APPLIED_DELTA;
import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.CONFLICT;
import static io.deltasync.db.jooq.Tables.ENTITY;

import com.google.protobuf.Struct;
import io.deltasync.v1.Delta;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Entity;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import org.jooq.JSONB;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;

/**
 * One write transaction: the idempotency records and the entity writes of the deltas of one pushed batch, committed
 * together; {@link #inSavepoint} makes one delta's part of it all-or-nothing on its own.
 */
public final class WriteTransaction {
  private final DSLContext tx;
  private final EntityStore entities;
  /** The results of this transaction's deltas, shared with its savepoints. */
  private final Results results;

  /**
   * The results this transaction recorded but has not written yet (deferred mode), by "client_id NUL delta_id", in
   * batch order: a retry later in the same batch is answered from them.
   */
  private static final class Results {
    boolean deferred;
    final Map<String, byte[]> pending = new LinkedHashMap<>();
  }

  WriteTransaction(DSLContext tx) {
    this(tx, new Results());
  }

  private WriteTransaction(DSLContext tx, Results results) {
    this.tx = tx;
    this.entities = new JsonEntityStore(tx);
    this.results = results;
  }

  /**
   * Runs {@code work} inside a savepoint of this transaction: if it throws, everything it did (its idempotency
   * claim included) is rolled back to the savepoint and the exception propagates; the transaction stays usable.
   */
  public <T> T inSavepoint(Function<WriteTransaction, T> work) {
    // jOOQ nests transactions as savepoints (SAVEPOINT, then RELEASE or ROLLBACK TO). Deferred results are shared
    // with the savepoint (a retry later in the batch must find them) and forgotten with it when it rolls back.
    Set<String> pendingBefore = new HashSet<>(results.pending.keySet());
    try {
      return tx.transactionResult(configuration -> work.apply(new WriteTransaction(DSL.using(configuration),
          results)));
    } catch (RuntimeException e) {
      results.pending.keySet().retainAll(pendingBefore);
      throw e;
    }
  }

  /** What a plain write does: a create without a base, or a compare-and-set update or delete. */
  public enum PlainKind { CREATE, UPDATE, DELETE }

  /**
   * One delta for {@link #claimAndWritePlain}: no edits, nothing but the write it names.
   *
   * @param deltaId its id
   * @param digest its digest (idempotency)
   * @param kind what it writes
   * @param key the entity
   * @param base what the compare-and-set expects (updates and deletes; empty: not checked)
   * @param dataJson the new document (ignored for deletes)
   * @param writeClockMicros its effective time for last-write-wins clocks
   * @param document the delta's document, of which {@code dataJson} is the JSON: a write that stores it as sent
   *     answers with it (V23) rather than reading the stored jsonb back
   */
  public record PlainWrite(String deltaId, byte[] digest, PlainKind kind, EntityKey key, Expected base,
      String dataJson, long writeClockMicros, Struct document) {}

  /** What {@link #claimAndWritePlain} did with one delta it claimed. */
  public sealed interface PlainOutcome {}

  /** Claimed and written: the entity after the write. */
  public record PlainWritten(Entity entity) implements PlainOutcome {}

  /** Claimed, but the write missed (the entity exists, is absent, deleted or at another version): a conflict. */
  public record PlainMissed() implements PlainOutcome {}

  /**
   * Claims and writes many plain deltas of one client in one statement (set-based: one multi-row claim, one
   * multi-row insert, one multi-row compare-and-set update). No entity and no delta id may appear twice in
   * {@code writes}. Returns the outcome of each delta claimed here, by delta id; a delta that is absent was not
   * claimed (applied before, or claimed earlier in this transaction) and nothing was written for it. The claim of a
   * written delta holds the written entity (V19), which answers its retries: record no result for it. The claims of
   * missed deltas stay: the caller resolves them in this transaction, or {@link #releaseClaim}s them.
   */
  public Map<String, PlainOutcome> claimAndWritePlain(String clientId, List<PlainWrite> writes) {
    return PlainWrites.apply(tx, clientId, writes);
  }

  /** Drops this transaction's own claim of a delta (one it will not record a result for). */
  public void releaseClaim(String clientId, String deltaId) {
    tx.deleteFrom(APPLIED_DELTA)
        .where(APPLIED_DELTA.CLIENT_ID.eq(clientId), APPLIED_DELTA.DELTA_ID.eq(deltaId), APPLIED_DELTA.RESULT.isNull(),
            APPLIED_DELTA.WRITTEN_ENTITY.isNull(), APPLIED_DELTA.WRITTEN_META.isNull())
        .execute();
  }

  /** What {@link #claimDelta} found. */
  public sealed interface Claim {}

  /** The delta is new: this transaction applies it and must {@link #recordResult} before commit. */
  public record Claimed() implements Claim {}

  /**
   * The delta was applied before.
   *
   * @param sameContent whether it had the same digest (a true retry) or other content (a reused id)
   * @param result the serialized result first returned (stored with the claim, or pending earlier in this batch);
   *     null for a reused id, and when {@code written} holds the first result instead
   * @param written for a delta applied by a claim-and-write statement: the entity that write left, exactly as
   *     stored with the claim (its data, when the claim kept only metadata because the write stored the delta's own
   *     document, V23, is the retrying delta's document as jsonb reads it back); its first result was APPLIED with
   *     this entity. Null otherwise, and for a delta with other content (a reused id)
   */
  public record AlreadyApplied(boolean sameContent, byte[] result, Entity written) implements Claim {}

  /**
   * Claims (client_id, delta_id) for this transaction. The insert comes first so that a concurrent retry of the
   * same delta blocks on the primary key until this transaction ends, then sees the committed result instead of
   * applying the delta a second time.
   */
  public Claim claimDelta(String clientId, String deltaId, byte[] digest, long writeClockMicros, Struct document) {
    // One round trip for the claim and the writer settings: the INSERT selects from the settings CTE, which makes
    // PostgreSQL evaluate it. Settings made for a delta that turns out to be a retry are harmless (nothing is
    // written after them, and they end with the transaction). The edits setting is cleared: a batch is one
    // transaction, and an earlier delta's edits must not be logged with this delta's changes.
    var writer = DSL.name("writer").fields("client_id", "delta_id", "write_clock_us", "edits").as(DSL.select(
        setting("deltasync.client_id", clientId),
        setting("deltasync.delta_id", deltaId),
        setting("deltasync.write_clock_us", Long.toString(writeClockMicros)),
        setting("deltasync.edits", "")));
    int inserted = tx.with(writer)
        .insertInto(APPLIED_DELTA, APPLIED_DELTA.CLIENT_ID, APPLIED_DELTA.DELTA_ID, APPLIED_DELTA.DELTA_DIGEST)
        .select(DSL.select(DSL.val(clientId), DSL.val(deltaId), DSL.val(digest)).from(writer))
        .onConflictDoNothing()
        .execute();
    if (inserted == 1) {
      return new Claimed();
    }
    return stored(clientId, deltaId, digest, document);
  }

  /**
   * The claim stored for the delta, made before this statement (applied before, or earlier in this very batch):
   * whether its digest is {@code digest}, and its first result: the one stored with the claim (every claimed delta's
   * result is stored in the transaction that claims it), or pending from earlier in this batch. Nothing else is
   * consulted: neither the change log nor the entity can say what the first answer was (an operator may empty the
   * log, bookkeeping changes the entity without a new version, and a later application of the same id writes rows
   * naming it too).
   */
  private AlreadyApplied stored(String clientId, String deltaId, byte[] digest, Struct document) {
    StoredClaim stored = tx.connectionResult(connection -> storedClaim(connection, clientId, deltaId, digest,
        document));
    if (!Arrays.equals(stored.digest(), digest)) {
      return new AlreadyApplied(false, null, null);
    }
    if (stored.result() == null && stored.written() != null) {
      return new AlreadyApplied(true, null, stored.written());
    }
    byte[] result = stored.result() != null ? stored.result() : results.pending.get(clientId + '\0' + deltaId);
    if (result == null) {
      // Another transaction's uncommitted claim would have made us wait, and this transaction's own claims have
      // their results pending; a committed claim without a result was left by a build that did not store the
      // results of plainly applied deltas (withdrawn before release, docs/performance.md).
      throw new IllegalStateException("delta " + deltaId + " of client " + clientId + " has an idempotency record "
          + "without a result; its first answer is unknown");
    }
    return new AlreadyApplied(true, result, null);
  }

  private record StoredClaim(byte[] digest, byte[] result, Entity written) {}

  // The entity stored by the claim-and-write (SingleWrites, PlainWrites) is read back as an entity row, so that
  // Rows.written maps it exactly as it mapped the row the write returned: the same entity, hence the same result
  // bytes. A claim that kept the entity without its data (written_meta, V23: the write stored the delta's own
  // document) reads as a row whose data is NULL, and Rows.written takes the data from the retrying delta, exactly
  // as the write's answer did: only when the digests match, which proves it is the same delta, hence the same
  // document.
  private static final String STORED_CLAIM = """
      SELECT a.delta_digest, a.result, (a.written_entity IS NOT NULL OR a.written_meta IS NOT NULL) AS has_written,
             e.*
      FROM applied_delta a, jsonb_populate_record(NULL::entity, coalesce(a.written_entity, a.written_meta)) e
      WHERE a.client_id = ? AND a.delta_id = ?""";

  private static StoredClaim storedClaim(java.sql.Connection connection, String clientId, String deltaId,
      byte[] digest, Struct document) {
    try (PreparedStatement statement = connection.prepareStatement(STORED_CLAIM)) {
      statement.setString(1, clientId);
      statement.setString(2, deltaId);
      try (java.sql.ResultSet row = statement.executeQuery()) {
        if (!row.next()) {
          throw new IllegalStateException("delta " + deltaId + " of client " + clientId + " was not claimed");
        }
        byte[] storedDigest = row.getBytes("delta_digest");
        // Another delta's document must never stand in for the stored one: the entity is built for a retry only.
        boolean retry = Arrays.equals(storedDigest, digest);
        return new StoredClaim(storedDigest, row.getBytes("result"),
            retry && row.getBoolean("has_written") ? Rows.written(row, document) : null);
      }
    } catch (SQLException e) {
      throw new DataAccessException("SQL [" + STORED_CLAIM + "]; " + e.getMessage(), e);
    }
  }

  /**
   * What {@link #claimAndInsert} or {@link #claimAndReplace} did.
   *
   * @param claim the claim's outcome; when {@link AlreadyApplied}, nothing was written
   * @param written the entity after the write; empty if the claim failed or the write missed (a conflict)
   */
  public record FirstWrite(Claim claim, Optional<Entity> written) {}

  /**
   * Inserts the entity (a create without a base) unless the delta was claimed before, and claims the delta, in one
   * statement. The row names its writer (V14): no trigger settings are made, so a caller that writes again for this
   * delta after a miss must {@link #identifyWriter} first. When it wrote, the claim holds the written entity (V19)
   * and answers retries with it: the caller records no result for it.
   */
  public FirstWrite claimAndInsert(String clientId, String deltaId, byte[] digest, long writeClockMicros,
      EntityKey key, String dataJson, Struct document) {
    return firstWrite(clientId, deltaId, digest, document,
        SingleWrites.insert(tx, clientId, deltaId, digest, writeClockMicros, key, dataJson, document));
  }

  /**
   * Claims the delta and, if claimed, replaces the entity's data by compare-and-set on {@code base} (a live entity)
   * in the same statement, keeping every stored value the new document equals exactly as stored (see
   * JsonEntityStore's keepingExact). As {@link #claimAndInsert}, it makes no trigger settings.
   */
  public FirstWrite claimAndReplace(String clientId, String deltaId, byte[] digest, long writeClockMicros,
      EntityKey key, Expected base, String dataJson, Struct document) {
    return firstWrite(clientId, deltaId, digest, document,
        SingleWrites.replace(tx, clientId, deltaId, digest, writeClockMicros, key, base, dataJson, document));
  }

  private FirstWrite firstWrite(String clientId, String deltaId, byte[] digest, Struct document,
      SingleWrites.Outcome outcome) {
    if (outcome.claimed()) {
      return new FirstWrite(new Claimed(), outcome.written());
    }
    return new FirstWrite(stored(clientId, deltaId, digest, document), Optional.empty());
  }

  private static org.jooq.Field<String> setting(String name, String value) {
    return DSL.function("set_config", String.class, DSL.inline(name), DSL.val(value), DSL.inline(true));
  }

  /** Stores the result to answer retries with (at once, or with {@link #flushResults} when deferred). */
  public void recordResult(String clientId, String deltaId, byte[] result) {
    if (results.deferred) {
      results.pending.put(clientId + '\0' + deltaId, result);
      return;
    }
    tx.update(APPLIED_DELTA)
        .set(APPLIED_DELTA.RESULT, result)
        .where(APPLIED_DELTA.CLIENT_ID.eq(clientId), APPLIED_DELTA.DELTA_ID.eq(deltaId))
        .execute();
  }

  /**
   * From now on results are kept until {@link #flushResults}, which writes them all in one statement: one round
   * trip and one statement per batch instead of per delta. Only for a transaction that rolls back as a whole when
   * any delta fails (no savepoints), and that calls flushResults before it commits.
   */
  public void deferResults() {
    results.deferred = true;
  }

  // Fixed text through the driver, as the claim-and-write statements (SingleWrites, PlainWrites): PgJDBC prepares
  // it once per connection, and jOOQ neither parses a plain-SQL template nor renders anything per batch. The results
  // travel as base64 text, because a bytea[] bind is not something every driver version agrees on.
  private static final String STORE_RESULTS = """
      UPDATE applied_delta a SET result = decode(r.result, 'base64')
      FROM unnest(?::text[], ?::text[], ?::text[]) AS r(client_id, delta_id, result)
      WHERE a.client_id = r.client_id AND a.delta_id = r.delta_id""";

  /**
   * Writes the deferred results: one UPDATE for all of them, the results of every delta this transaction claimed
   * (plain writes included), so that they commit with the claims.
   */
  public void flushResults() {
    Map<String, byte[]> pendingResults = results.pending;
    if (pendingResults.isEmpty()) {
      return;
    }
    String[] clients = new String[pendingResults.size()];
    String[] deltas = new String[pendingResults.size()];
    String[] encoded = new String[pendingResults.size()];
    int i = 0;
    for (Map.Entry<String, byte[]> entry : pendingResults.entrySet()) {
      String key = entry.getKey();
      int nul = key.indexOf('\0');
      clients[i] = key.substring(0, nul);
      deltas[i] = key.substring(nul + 1);
      encoded[i] = Base64.getEncoder().encodeToString(entry.getValue());
      i++;
    }
    tx.connection(connection -> {
      try (PreparedStatement statement = connection.prepareStatement(STORE_RESULTS)) {
        statement.setArray(1, connection.createArrayOf("text", clients));
        statement.setArray(2, connection.createArrayOf("text", deltas));
        statement.setArray(3, connection.createArrayOf("text", encoded));
        statement.executeUpdate();
      } catch (SQLException e) {
        // As jOOQ would: callers classify by SQLSTATE (DataAccessException#sqlState reads the cause's).
        throw new DataAccessException("SQL [" + STORE_RESULTS + "]; " + e.getMessage(), e);
      }
    });
    pendingResults.clear();
  }

  /**
   * Tells the change-log trigger who is writing and which delta caused the change (transaction-local settings,
   * so they cannot leak into another transaction on the same pooled connection).
   */
  public void identifyWriter(String clientId, String deltaId, long writeClockMicros) {
    // claimDelta does the same in its own statement; this is for writes that claim no delta (resolutions).
    tx.select(
            setting("deltasync.client_id", clientId),
            setting("deltasync.delta_id", deltaId),
            setting("deltasync.write_clock_us", Long.toString(writeClockMicros)),
            setting("deltasync.edits", ""))
        .fetch();
  }

  /**
   * Tells the change-log trigger the edits of the next entity write of this transaction (stored in
   * {@code change_log.edits}), or with {@code null} that it has none. Transaction-local like
   * {@link #identifyWriter}; a writer that sets edits and then writes whole data instead must clear them first.
   */
  public void recordEdits(List<EditOperation> edits) {
    tx.select(setting("deltasync.edits", edits == null ? "" : Rows.editsJson(edits))).fetch();
  }

  /**
   * One logged change of an entity, as an operational transform needs it.
   *
   * @param rowVersion the version the change produced
   * @param operation "create", "update" or "delete"
   * @param clientId the client whose delta made it, empty for plain-SQL writes
   * @param edits the change's edits, empty if it was not made with edits
   */
  public record LoggedChange(long rowVersion, String operation, String clientId,
      Optional<List<EditOperation>> edits) {}

  /**
   * The logged changes of the entity's current life (the one created at {@code createdAt}: a purged entity created
   * again starts its versions anew) with {@code afterVersion < row_version <= upToVersion}, in version order. Fewer
   * than {@code upToVersion - afterVersion} rows means the history was cleaned up.
   */
  public List<LoggedChange> changesBetween(EntityKey key, Instant createdAt, long afterVersion,
      long upToVersion) {
    return tx.select(CHANGE_LOG.ROW_VERSION, CHANGE_LOG.OPERATION, CHANGE_LOG.CLIENT_ID, CHANGE_LOG.EDITS)
        .from(CHANGE_LOG)
        .where(CHANGE_LOG.SCOPE.eq(key.scope()), CHANGE_LOG.ENTITY_TYPE.eq(key.entityType()),
            CHANGE_LOG.ENTITY_ID.eq(key.entityId()), CHANGE_LOG.CREATED_AT.eq(createdAt.atOffset(ZoneOffset.UTC)),
            CHANGE_LOG.ROW_VERSION.gt(afterVersion), CHANGE_LOG.ROW_VERSION.le(upToVersion))
        // Version order, not (tx_id, change_id): a transaction id is assigned at a transaction's first write, so
        // of two concurrent writers of one entity the one with the smaller id may have written the later version.
        .orderBy(CHANGE_LOG.ROW_VERSION)
        .fetch(row -> new LoggedChange(row.value1(), row.value2(), row.value3() == null ? "" : row.value3(),
            Optional.ofNullable(row.value4()).map(Rows::edits)));
  }

  /** The entity's last-write-wins clocks (empty if there is no such row). */
  public Optional<WriteClocks> clocks(EntityKey key) {
    return tx.select(ENTITY.WRITE_CLOCK_US, ENTITY.WRITE_CLOCK_BY, ENTITY.FIELD_CLOCKS)
        .from(ENTITY)
        .where(ENTITY.SCOPE.eq(key.scope()), ENTITY.ENTITY_TYPE.eq(key.entityType()),
            ENTITY.ENTITY_ID.eq(key.entityId()))
        .fetchOptional()
        .map(row -> new WriteClocks(new WriteClocks.Stamp(row.value1(), row.value2()), fieldClocks(row.value3())));
  }

  private static Map<String, WriteClocks.Stamp> fieldClocks(JSONB json) {
    Map<String, WriteClocks.Stamp> clocks = new HashMap<>();
    for (var entry : Json.toStruct(json).getFieldsMap().entrySet()) {
      var stamp = entry.getValue().getStructValue().getFieldsMap();
      clocks.put(entry.getKey(), new WriteClocks.Stamp((long) stamp.get("t").getNumberValue(),
          stamp.get("c").getStringValue()));
    }
    return clocks;
  }

  /**
   * Whether PostgreSQL has assigned this transaction an id yet: it does at the first write (a row locked counts),
   * and from then on the transaction holds back every reader's watermark (the snapshot's xmin) until it ends.
   */
  public boolean transactionIdAssigned() {
    return tx.fetchOne("SELECT pg_current_xact_id_if_assigned() IS NOT NULL").get(0, Boolean.class);
  }

  /** Whether the change log holds the entity's change to {@code rowVersion} with exactly this etag. */
  public boolean hasLoggedEtag(EntityKey key, long rowVersion, String etag) {
    return tx.fetchExists(tx.selectOne().from(CHANGE_LOG)
        .where(CHANGE_LOG.SCOPE.eq(key.scope()), CHANGE_LOG.ENTITY_TYPE.eq(key.entityType()),
            CHANGE_LOG.ENTITY_ID.eq(key.entityId()), CHANGE_LOG.ROW_VERSION.eq(rowVersion),
            CHANGE_LOG.ETAG.eq(etag)));
  }

  /** The entity's document at {@code rowVersion}, if the change log still holds that version. */
  public Optional<Struct> dataAt(EntityKey key, long rowVersion) {
    return tx.select(CHANGE_LOG.DATA)
        .from(CHANGE_LOG)
        .where(CHANGE_LOG.SCOPE.eq(key.scope()), CHANGE_LOG.ENTITY_TYPE.eq(key.entityType()),
            CHANGE_LOG.ENTITY_ID.eq(key.entityId()), CHANGE_LOG.ROW_VERSION.eq(rowVersion),
            CHANGE_LOG.DATA.isNotNull())
        .orderBy(CHANGE_LOG.TX_ID.desc(), CHANGE_LOG.CHANGE_ID.desc())
        .limit(1)
        .fetchOptional()
        .map(row -> Json.toStruct(row.value1()));
  }

  /** Puts a conflict in the manual resolution queue. */
  public void queueConflict(UUID conflictId, EntityKey key, String clientId, Delta delta, Entity current) {
    tx.insertInto(CONFLICT)
        .set(CONFLICT.CONFLICT_ID, conflictId)
        .set(CONFLICT.SCOPE, key.scope())
        .set(CONFLICT.ENTITY_TYPE, key.entityType())
        .set(CONFLICT.ENTITY_ID, key.entityId())
        .set(CONFLICT.CLIENT_ID, clientId)
        .set(CONFLICT.CLIENT_DELTA, delta.toByteArray())
        .set(CONFLICT.BASE_ROW_VERSION, delta.getBaseRowVersion())
        .set(CONFLICT.SERVER_ROW_VERSION, current.getRowVersion())
        // The stored document as it is (queuing does not change it), not the Struct read back: that one holds doubles.
        .set(CONFLICT.SERVER_DATA, current.getIsDeleted() ? DSL.inline((JSONB) null)
            : DSL.field(DSL.select(ENTITY.DATA).from(ENTITY).where(ENTITY.SCOPE.eq(key.scope()),
                ENTITY.ENTITY_TYPE.eq(key.entityType()), ENTITY.ENTITY_ID.eq(key.entityId()))))
        .set(CONFLICT.SERVER_DELETED, current.getIsDeleted())
        .execute();
  }

  /** A queued conflict, locked until this transaction ends (so two resolutions cannot both proceed). */
  public Optional<QueuedConflict> lockConflict(UUID conflictId) {
    return tx.selectFrom(CONFLICT).where(CONFLICT.CONFLICT_ID.eq(conflictId)).forUpdate().fetchOptional()
        .map(ConflictQueue::conflict);
  }

  /**
   * A queued conflict as committed, without locking it: for reading another conflict's details while resolving one.
   * Locking it too would make two resolutions of different conflicts of one entity wait for each other's row
   * (a deadlock); the entity's compare-and-set already orders them.
   */
  public Optional<QueuedConflict> readConflict(UUID conflictId) {
    return tx.selectFrom(CONFLICT).where(CONFLICT.CONFLICT_ID.eq(conflictId)).fetchOptional()
        .map(ConflictQueue::conflict);
  }

  /**
   * How many conflicts of an entity are open, and the ids of the newest of them.
   *
   * @param count how many are open
   * @param newestIds the ids of the newest {@code newest} (as asked) open conflicts, oldest first
   */
  public record OpenConflicts(long count, List<UUID> newestIds) {}

  /**
   * The entity's open conflicts: their number and the newest {@code newest} ids. Read after locking the entity row
   * (EntityStore.lock), so that this statement's snapshot holds every conflict committed before the lock.
   */
  public OpenConflicts openConflicts(EntityKey key, int newest) {
    var open = CONFLICT.SCOPE.eq(key.scope()).and(CONFLICT.ENTITY_TYPE.eq(key.entityType()))
        .and(CONFLICT.ENTITY_ID.eq(key.entityId())).and(CONFLICT.RESOLVED_AT.isNull());
    int count = tx.fetchCount(CONFLICT, open);
    List<UUID> ids = new java.util.ArrayList<>(tx.select(CONFLICT.CONFLICT_ID).from(CONFLICT).where(open)
        .orderBy(CONFLICT.DETECTED_AT.desc(), CONFLICT.CONFLICT_ID.desc())
        .limit(newest)
        .fetch(CONFLICT.CONFLICT_ID));
    java.util.Collections.reverse(ids);
    return new OpenConflicts(count, List.copyOf(ids));
  }

  /** Marks a conflict resolved. */
  public void closeConflict(UUID conflictId, String resolution) {
    tx.update(CONFLICT)
        .set(CONFLICT.RESOLVED_AT, DSL.currentOffsetDateTime())
        .set(CONFLICT.RESOLUTION, resolution)
        .where(CONFLICT.CONFLICT_ID.eq(conflictId))
        .execute();
  }

  /** The entity store, bound to this transaction. */
  public EntityStore entities() {
    return entities;
  }
}

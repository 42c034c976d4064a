package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.CLIENT_SYNC_STATUS;
import static io.deltasync.db.jooq.Tables.ENTITY;
import static io.deltasync.db.jooq.Tables.SYNC_EPOCH;

import com.google.rpc.Code;
import io.deltasync.server.error.Errors;
import io.deltasync.v1.Change;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Operation;
import com.google.rpc.Status;
import java.security.SecureRandom;
import java.sql.SQLException;
import io.deltasync.db.jooq.tables.records.EntityRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.Supplier;
import io.deltasync.server.wire.MessageBudget;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Transactions and change-log reads over the shared jOOQ context. */
public final class SyncStore {
  private static final Logger log = LoggerFactory.getLogger(SyncStore.class);
  private static final int MAX_ATTEMPTS = 3;
  private static final int MAX_BATCH_ATTEMPTS = 2;

  /**
   * The visibility watermark of the reading statement's own snapshot: every transaction with a smaller id has
   * ended, and every transaction still running or yet to start has an id at least this large.
   */
  private static final Field<Long> SNAPSHOT_XMIN =
      DSL.field("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", Long.class);

  private final DSLContext dsl;
  private volatile boolean identityWarned;
  private final long maxChangeBytes;
  private final AtomicLong degradedChanges = new AtomicLong();
  private final ClientStatusRecorder clientStatus;
  private final ClientGrants grants;
  private final BoundedReads bounded;

  /** Wraps the shared context; changes are sent in messages of up to 4 MiB (gRPC's default). */
  public SyncStore(DSLContext dsl) {
    this(dsl, 4 * 1024 * 1024);
  }

  /**
   * Wraps the shared context; {@code maxMessageBytes} is the largest message clients accept, and a change that
   * would not fit in one is delivered degraded. The budget is the one the senders split pages by (half the
   * message, or all but 64 KiB), less room for the cursor and the message around the change.
   */
  public SyncStore(DSLContext dsl, int maxMessageBytes) {
    this.dsl = dsl;
    this.maxChangeBytes = MessageBudget.of(maxMessageBytes) - 1024;
    this.clientStatus = new ClientStatusRecorder(dsl);
    this.grants = new ClientGrants(dsl);
    this.bounded = new BoundedReads(dsl, this);
  }

  /** The scopes each client last synced under (see {@link ClientGrants}). */
  public ClientGrants grants() {
    return grants;
  }

  /**
   * Runs {@code work} in one READ COMMITTED transaction and returns its result after commit. Serialization
   * failures and deadlocks are retried (the work must be safe to run again, which a rolled-back transaction is).
   */
  public <T> T inTransaction(Function<WriteTransaction, T> work) {
    return transaction(work, MAX_ATTEMPTS);
  }

  /**
   * Like {@link #inTransaction} for a whole pushed batch: more attempts, with a growing random pause between them.
   * Batches hold the row locks of all their deltas until commit, and the order of a client's deltas is part of
   * their meaning, so they cannot be sorted into one global lock order: two batches touching the same entities in
   * opposite orders deadlock, PostgreSQL aborts one of them (40P01), and it runs again once, after a random pause;
   * the caller decides what to do if that fails too. Nothing of a failed attempt has been returned to anyone, so
   * running again is invisible to the client.
   */
  public <T> T inBatchTransaction(Function<WriteTransaction, T> work) {
    return transaction(work, MAX_BATCH_ATTEMPTS);
  }

  private <T> T transaction(Function<WriteTransaction, T> work, int maxAttempts) {
    for (int attempt = 1; ; attempt++) {
      try {
        return dsl.transactionResult(configuration -> work.apply(new WriteTransaction(DSL.using(configuration))));
      } catch (DataAccessException e) {
        if (attempt >= maxAttempts || !isRetryable(e)) {
          throw e;
        }
        log.debug("Retrying transaction after {} (attempt {})", e.sqlState(), attempt);
        // Full jitter: two transactions that just deadlocked must not meet again in lock-step.
        sleepQuietly(ThreadLocalRandom.current().nextLong(1 + Math.min(200, 10L << attempt)));
      }
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Reads the changes after {@code after} that every reader can already see, in commit order. Only rows of
   * transactions below the watermark (the snapshot xmin, read first) are returned, so a transaction that commits
   * later can never land behind a position handed out now. When fewer than {@code limit} rows match, the read has
   * seen everything below the watermark and its frontier moves there, past rows the filter skipped.
   */
  public ChangePage readChanges(Position after, int limit, ChangeFilter filter) {
    // All transactions below xmin have ended for good, so a later statement reading "tx_id < xmin" sees exactly
    // the same complete set; no shared snapshot is needed between the two statements.
    long xmin = watermark();
    var rows = dsl.selectFrom(CHANGE_LOG)
        .where(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(after.txId(), after.changeId()))
        .and(CHANGE_LOG.TX_ID.lt(xmin))
        .and(condition(filter, CHANGE_LOG.SCOPE, CHANGE_LOG.ENTITY_TYPE))
        .orderBy(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID)
        .limit(limit + 1)
        .fetch();
    boolean hasMore = rows.size() > limit;
    List<ChangePage.Positioned> changes = rows.stream()
        .limit(limit)
        .map(row -> {
          Position position = new Position(row.getTxId(), row.getChangeId());
          return new ChangePage.Positioned(position, carried(() -> Rows.change(row),
              why -> Rows.degradedChange(row, why), "change " + position));
        })
        .toList();
    Position last = changes.isEmpty() ? after : changes.getLast().position();
    Position frontier = hasMore ? last : Position.max(last, Position.max(after, Position.below(xmin)));
    return new ChangePage(changes, frontier, hasMore);
  }

  /** The wire cursor just after a change at {@code position} whose commit time is {@code anchorMicros}. */
  @FunctionalInterface
  public interface CursorEncoder {
    String encode(Position position, long anchorMicros);
  }

  /**
   * As {@link #readChanges(Position, int, ChangeFilter)}, bounded by bytes as well (the stream's catch-up): the query
   * returns rows while their estimated size stays within {@code maxBytes}, always at least one ({@link
   * BoundedReads}). A read cut by bytes has more after it, and its frontier is its last change. Each change has its
   * cursor set, by {@code cursors}.
   */
  public ChangePage readChanges(Position after, int limit, long maxBytes, ChangeFilter filter,
      CursorEncoder cursors) {
    long xmin = watermark();
    Condition where = DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(after.txId(), after.changeId())
        .and(CHANGE_LOG.TX_ID.lt(xmin))
        .and(condition(filter, CHANGE_LOG.SCOPE, CHANGE_LOG.ENTITY_TYPE));
    BoundedReads.Read<ChangePage.Positioned> read = bounded.changes(where, limit + 1, maxBytes, cursors);
    List<ChangePage.Positioned> rows = read.rows();
    boolean hasMore = rows.size() > limit || read.followed();
    List<ChangePage.Positioned> changes = rows.size() > limit ? List.copyOf(rows.subList(0, limit)) : rows;
    Position last = changes.isEmpty() ? after : changes.getLast().position();
    Position frontier = hasMore ? last : Position.max(last, Position.max(after, Position.below(xmin)));
    return new ChangePage(changes, frontier, hasMore);
  }

  /**
   * A page of the current state bounded by bytes (the stream's initial state).
   *
   * @param changes the live entities as create changes, in key order
   * @param more whether more may follow the last one (the read was cut by its rows or its bytes)
   */
  public record StatePage(List<Change> changes, boolean more) {}

  /**
   * As {@link #readInitialState(ChangeFilter, ChangeFilter, EntityKey, int)}, bounded by bytes as well: rows while
   * their estimated size stays within {@code maxBytes}, always at least one ({@link BoundedReads}).
   */
  public StatePage readInitialState(ChangeFilter filter, ChangeFilter except, EntityKey after, int limit,
      long maxBytes) {
    Condition condition = initialStateCondition(filter, except);
    if (after == null) {
      BoundedReads.Read<Change> read = bounded.entities(condition, limit, maxBytes);
      return new StatePage(read.rows(), read.followed() || read.rows().size() >= limit);
    }
    // Two ranges of the primary key, as in readInitialState without bytes.
    BoundedReads.Read<Change> first = bounded.entities(condition.and(ENTITY.SCOPE.eq(after.scope()))
        .and(DSL.row(ENTITY.ENTITY_TYPE, ENTITY.ENTITY_ID).gt(after.entityType(), after.entityId())), limit, maxBytes);
    if (first.followed() || first.rows().size() >= limit) {
      return new StatePage(first.rows(), true);
    }
    long left = maxBytes - first.bytes();
    if (!first.rows().isEmpty() && left <= 0) {
      return new StatePage(first.rows(), true);
    }
    BoundedReads.Read<Change> second = bounded.entities(condition.and(ENTITY.SCOPE.gt(after.scope())),
        limit - first.rows().size(), Math.max(1, left));
    List<Change> changes = new ArrayList<>(first.rows().size() + second.rows().size());
    changes.addAll(first.rows());
    changes.addAll(second.rows());
    return new StatePage(changes, second.followed() || second.rows().size() >= limit - first.rows().size());
  }

  private static Condition initialStateCondition(ChangeFilter filter, ChangeFilter except) {
    Condition condition = ENTITY.IS_DELETED.isFalse().and(condition(filter, ENTITY.SCOPE, ENTITY.ENTITY_TYPE));
    if (!except.selectors().isEmpty()) {
      condition = condition.andNot(condition(except, ENTITY.SCOPE, ENTITY.ENTITY_TYPE));
    }
    return condition;
  }

  /**
   * What the reads bounded by bytes returned since start (every server in this JVM): reads, their rows, their
   * estimated bytes, and reads of more than one row whose estimated bytes exceeded their budget (none while the
   * query keeps its promise).
   */
  public record BoundedReadStats(long reads, long rows, long estimatedBytes, long multiRowReadsOverBudget) {}

  /** See {@link BoundedReadStats}. */
  public static BoundedReadStats boundedReadStats() {
    return BoundedReads.stats();
  }

  /** The statement of a bounded change-log read (for EXPLAIN in tests). */
  org.jooq.Query boundedChangesQuery(Position after, long xmin, int limit, long maxBytes, ChangeFilter filter) {
    return bounded.changeLogQuery(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(after.txId(), after.changeId())
        .and(CHANGE_LOG.TX_ID.lt(xmin)).and(condition(filter, CHANGE_LOG.SCOPE, CHANGE_LOG.ENTITY_TYPE)), limit + 1,
        maxBytes);
  }

  /** The statement of a bounded initial-state read from the start (for EXPLAIN in tests). */
  org.jooq.Query boundedStateQuery(ChangeFilter filter, int limit, long maxBytes) {
    return bounded.entityQuery(initialStateCondition(filter, ChangeFilter.all()), limit, maxBytes);
  }

  /**
   * One row as clients receive it. Rows are converted one by one, and a row that cannot be converted, or whose change
   * does not fit in one message, is delivered degraded (Change.degraded) and counted: retrying cannot fix it, and
   * failing the whole read would stop the feed for every client at that row, for ever.
   */
  Change carried(Supplier<Change> convert, Function<Status, Change> degrade, String what) {
    Change degraded;
    try {
      Change change = convert.get();
      int size = change.getSerializedSize();
      if (size <= maxChangeBytes) {
        return change;
      }
      degraded = Rows.withoutDocuments(change, Errors.status(Code.RESOURCE_EXHAUSTED,
          ErrorReason.ERROR_REASON_CHANGE_TOO_LARGE, "size: " + size + " bytes (expected: <= " + maxChangeBytes
              + ", to fit in one message of the server's DELTASYNC_MAX_MESSAGE_BYTES); its documents are left out"));
    } catch (RuntimeException | StackOverflowError e) {
      degraded = degrade.apply(Errors.status(Code.DATA_LOSS, ErrorReason.ERROR_REASON_UNREADABLE_CHANGE,
          "the stored change cannot be delivered: " + e.getMessage() + "; its documents are left out (repair the "
              + "row; see docs/protocol.md, Degraded changes)"));
    }
    degradedChanges.incrementAndGet();
    io.deltasync.v1.Entity entity = degraded.getEntity();
    log.warn("Delivering {} of {}/{}/{} degraded: {}", what, entity.getScope(), entity.getEntityType(),
        entity.getEntityId(), degraded.getDegraded().getMessage());
    return degraded;
  }

  /**
   * How many changes were delivered degraded since start (each read counts: a row read by the live feed and by
   * two catch-ups counts three times).
   */
  public long degradedChanges() {
    return degradedChanges.get();
  }

  /** The visibility watermark: every transaction with a smaller id has ended. */
  public long watermark() {
    return dsl.select(SNAPSHOT_XMIN).fetchSingle().value1();
  }

  /**
   * How long the oldest transaction holding back the watermark (any transaction with an id, in any database of the
   * cluster) has been open, in seconds; 0 when there is none. Other roles' sessions are visible to a role with
   * pg_read_all_stats (pg_monitor); without it only the server's own transactions count.
   */
  public double watermarkAgeSeconds() {
    try {
      return dsl.resultQuery("SELECT coalesce(extract(epoch FROM clock_timestamp() - min(xact_start)), 0)::float8 "
          + "FROM pg_stat_activity WHERE backend_xid IS NOT NULL").fetchSingle().get(0, Double.class);
    } catch (DataAccessException e) {
      return Double.NaN;  // a scrape must not fail because the database is busy or gone: health says so
    }
  }

  /** The position after everything every reader can see now. */
  public Position visiblePosition() {
    return Position.below(watermark());
  }

  /**
   * A page of the current live entities matching {@code filter} but not {@code except} (empty = nothing
   * excepted), in key order after {@code after} (null = from the start), each as an OPERATION_CREATE change (one that
   * cannot be carried is degraded, as in {@link #readChanges}). Each page is its own short statement: the caller makes the result consistent by taking the
   * watermark before the first page and catching up from it afterwards (changes at or above it are delivered
   * again, and applying a change is idempotent by row_version), instead of holding one long transaction open,
   * which would hold back every other reader's watermark.
   */
  public List<Change> readInitialState(ChangeFilter filter, ChangeFilter except, EntityKey after, int limit) {
    Condition condition = ENTITY.IS_DELETED.isFalse().and(condition(filter, ENTITY.SCOPE, ENTITY.ENTITY_TYPE));
    if (!except.selectors().isEmpty()) {
      condition = condition.andNot(condition(except, ENTITY.SCOPE, ENTITY.ENTITY_TYPE));
    }
    List<EntityRecord> rows;
    if (after == null) {
      rows = initialStatePage(condition, limit);
    } else {
      // Two ranges of the primary key, each an ordered index scan that starts where the page starts: the rest of
      // after's scope, then the scopes after it. One row comparison over (scope, entity_type, entity_id) beside the
      // subscription's "scope = ?" does not position the scan: PostgreSQL starts at the scope's first row and
      // filters, so every page read the scope from its start and paging a large scope was quadratic (a page of a
      // 1,000,000-row scope took 290 ms at its middle; 0.7 ms so). docs/performance.md, "At scale".
      rows = new ArrayList<>(initialStatePage(condition.and(ENTITY.SCOPE.eq(after.scope()))
          .and(DSL.row(ENTITY.ENTITY_TYPE, ENTITY.ENTITY_ID).gt(after.entityType(), after.entityId())), limit));
      if (rows.size() < limit) {
        rows.addAll(initialStatePage(condition.and(ENTITY.SCOPE.gt(after.scope())), limit - rows.size()));
      }
    }
    List<Change> changes = new ArrayList<>(rows.size());
    for (EntityRecord row : rows) {
      changes.add(carried(() -> Change.newBuilder().setOperation(Operation.OPERATION_CREATE)
          .setEntity(Rows.entity(row)).build(), why -> Rows.degradedCreate(row, why), "current state"));
    }
    return changes;
  }

  private List<EntityRecord> initialStatePage(Condition condition, int limit) {
    return dsl.selectFrom(ENTITY)
        .where(condition)
        .orderBy(ENTITY.SCOPE, ENTITY.ENTITY_TYPE, ENTITY.ENTITY_ID)
        .limit(limit)
        .fetch();
  }

  /**
   * The live entities of a scope that pass {@code filter} (a stream's subscriptions) as of {@code at}: exactly what
   * the stream delivers for that scope, so a client subscribed to some types of a scope that holds others can match
   * it. Returned as (entity_type, entity_id, row_version), sorted by entity_type then entity_id in code-point order
   * (COLLATE "C" compares UTF-8 bytes, which sorts the same).
   *
   * <p>Read from the entity table, not rebuilt from the scope's whole change log, so the cost follows the scope's
   * live entities plus the changes after {@code at} (a client asks at the position it has reached, so these are
   * few), never the scope's history; and history cleaned up before {@code at} cannot make entities vanish from it.
   * One statement, so one snapshot: an entity with no change after the position holds at it what it holds now;
   * for each entity changed after it (found through change_log_scope_position, V10) the change log still has its
   * highest version at or before the position (history is only ever cleaned up behind acknowledged positions).
   * Every transaction at or below a position handed out has ended, so nothing can appear there later.
   */
  public List<EntityVersion> liveVersionsAt(String scope, ChangeFilter filter, Position at) {
    Field<String> scopeColumn = DSL.field(DSL.name("scope"), String.class);
    Field<String> typeColumn = DSL.field(DSL.name("entity_type"), String.class);
    var rows = dsl.resultQuery("""
        WITH touched AS (
          SELECT DISTINCT c.entity_type, c.entity_id FROM change_log c
          WHERE c.scope = {0} AND (c.tx_id, c.change_id) > ({1}, {2})
        )
        SELECT entity_type, entity_id, row_version FROM (
          SELECT e.scope, e.entity_type, e.entity_id, e.row_version FROM entity e
          WHERE e.scope = {0} AND NOT e.is_deleted
            AND NOT EXISTS (SELECT 1 FROM touched t WHERE t.entity_type = e.entity_type AND t.entity_id = e.entity_id)
          UNION ALL
          SELECT {0}, t.entity_type, t.entity_id, v.row_version FROM touched t
          CROSS JOIN LATERAL (
            SELECT c.row_version, c.is_deleted FROM change_log c
            WHERE c.scope = {0} AND c.entity_type = t.entity_type AND c.entity_id = t.entity_id
              AND (c.tx_id, c.change_id) <= ({1}, {2})
            ORDER BY c.row_version DESC LIMIT 1
          ) v
          WHERE NOT v.is_deleted
        ) live
        WHERE {3}
        ORDER BY entity_type COLLATE "C", entity_id COLLATE "C"
        """, DSL.val(scope), DSL.val(at.txId()), DSL.val(at.changeId()),
        DSL.trueCondition().and(condition(filter, scopeColumn, typeColumn)))
        .fetch();
    // The highest version at or before the position, not the last by position: two writers of one entity can commit
    // so that version N+1 sits before N in the log, and clients keep the highest version they receive.
    return rows.stream()
        .map(row -> new EntityVersion(row.get(0, String.class), row.get(1, String.class), row.get(2, Long.class)))
        .toList();
  }

  /**
   * One entity's identity and version within a scope.
   *
   * @param entityType its type
   * @param entityId its id
   * @param rowVersion its version
   */
  public record EntityVersion(String entityType, String entityId, long rowVersion) {}

  /** Whether this client has changes in the scope after {@code after} (its own writes not yet delivered past). */
  public boolean hasOwnChangesAfter(String clientId, String scope, Position after) {
    return dsl.fetchExists(dsl.selectOne().from(CHANGE_LOG)
        .where(CHANGE_LOG.CLIENT_ID.eq(clientId), CHANGE_LOG.SCOPE.eq(scope))
        .and(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(after.txId(), after.changeId())));
  }

  /** Before this position the change log may be incomplete (history purged): such cursors must resync. */
  public Position historyFloor() {
    var row = dsl.select(SYNC_EPOCH.HISTORY_FLOOR_TX_ID, SYNC_EPOCH.HISTORY_FLOOR_CHANGE_ID).from(SYNC_EPOCH)
        .fetchSingle();
    return new Position(row.value1(), row.value2());
  }

  /**
   * Records a client's acknowledged cursor (never moving it backwards) and that it was heard from now. Coalesced:
   * written within about a second, together with other clients', without waiting for a durable commit (see
   * {@link ClientStatusRecorder}).
   */
  public void recordAck(String clientId, String wireCursor, Position acked) {
    clientStatus.acked(clientId, wireCursor, acked);
  }

  /** Records that a client was heard from now; coalesced like {@link #recordAck}. */
  public void recordSeen(String clientId) {
    clientStatus.seen(clientId);
  }

  /**
   * A client's recorded status.
   *
   * @param lastAckCursor the last acknowledged wire cursor (empty if none)
   * @param lastAck its position (null if none)
   * @param lastSeenAt when the client was last heard from
   */
  public record ClientStatusRow(String lastAckCursor, Position lastAck, java.time.OffsetDateTime lastSeenAt) {}

  /** The client's recorded status, if it ever connected. */
  public java.util.Optional<ClientStatusRow> clientStatus(String clientId) {
    clientStatus.flush();  // what this node was told so far; other nodes' news arrives within their interval
    var status = CLIENT_SYNC_STATUS;
    return dsl.selectFrom(status).where(status.CLIENT_ID.eq(clientId)).fetchOptional()
        .map(row -> new ClientStatusRow(row.getLastAckCursor() == null ? "" : row.getLastAckCursor(),
            row.getLastAckTxId() == null ? null : new Position(row.getLastAckTxId(), row.getLastAckChangeId()),
            row.getLastSeenAt()));
  }

  /**
   * How many changes are visible after {@code after} (what a client has not acknowledged yet). The client's own
   * count too: a stream resumed from that cursor delivers them (suppression is per stream, not per client id).
   */
  public long countChangesAfter(Position after) {
    return countChangesAfter(after, ScopeSet.ALL);
  }

  /** As {@link #countChangesAfter(Position)}, counting only changes in {@code readable} scopes. */
  public long countChangesAfter(Position after, ScopeSet readable) {
    long xmin = watermark();
    return dsl.fetchCount(dsl.selectOne().from(CHANGE_LOG)
        .where(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(after.txId(), after.changeId()))
        .and(CHANGE_LOG.TX_ID.lt(xmin))
        .and(readable(readable, CHANGE_LOG.SCOPE)));
  }

  private static Condition condition(ChangeFilter filter, Field<String> scope, Field<String> type) {
    return selected(filter, scope, type).and(readable(filter.readable(), scope));
  }

  private static Condition readable(ScopeSet readable, Field<String> scope) {
    return ScopeSet.condition(readable, scope);
  }

  private static Condition selected(ChangeFilter filter, Field<String> scope, Field<String> type) {
    if (filter.selectors().isEmpty()) {
      return DSL.noCondition();
    }
    Condition any = DSL.falseCondition();
    for (ChangeFilter.Selector selector : filter.selectors()) {
      Condition one = selector.entityType().map(type::eq).orElse(DSL.noCondition());
      if (selector.scopes().size() == 1) {
        one = one.and(scope.eq(selector.scopes().iterator().next()));
      } else if (!selector.scopes().isEmpty()) {
        // One array bind value, not one per scope: an IN list of many scopes would reach the driver's limit of
        // 32,767 bind values (the request limits in ChangeFilter keep the number of selectors small).
        one = one.and(scope.eq(DSL.any(DSL.val(selector.scopes().stream().sorted().toArray(String[]::new)))));
      }
      any = any.or(one);
    }
    return any;
  }

  /** The change log's current epoch (part of every cursor). */
  public long epoch() {
    return dsl.select(SYNC_EPOCH.EPOCH).from(SYNC_EPOCH).fetchSingle().value1();
  }

  /**
   * The database's identity: the cluster's system identifier and the timeline it writes on. A promoted replica or a
   * point-in-time recovery writes on a new timeline; a restore into another cluster has another identifier.
   *
   * @param systemIdentifier {@code pg_control_system().system_identifier}, null when the server's role may not
   *     read it
   * @param timeline the timeline of the current WAL position (the first 8 hex digits of its WAL file's name, which
   *     changes at promotion, before any checkpoint)
   */
  public record DatabaseIdentity(Long systemIdentifier, long timeline) {}

  private static final String TIMELINE = "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint";

  /**
   * The database's identity. PostgreSQL lets every role execute pg_control_system() unless an administrator
   * revoked it; then the identifier is null and a warning says what it costs.
   */
  public DatabaseIdentity identity() {
    try {
      var row = dsl.resultQuery("select (select system_identifier from pg_control_system()), " + TIMELINE)
          .fetchSingle();
      return new DatabaseIdentity(row.get(0, Long.class), row.get(1, Long.class));
    } catch (DataAccessException e) {
      if (!"42501".equals(e.sqlState())) {
        throw e;
      }
      if (!identityWarned) {
        identityWarned = true;
        log.warn("The database role may not execute pg_control_system(): a restore into another cluster is then "
            + "recognised only by transaction ids and cursor fingerprints (GRANT EXECUTE ON FUNCTION "
            + "pg_control_system() to the server's role to close that gap).");
      }
      return new DatabaseIdentity(null, dsl.resultQuery("select " + TIMELINE).fetchSingle().get(0, Long.class));
    }
  }

  /**
   * Makes sure change-log positions are comparable with the transaction ids PostgreSQL hands out now, and that the
   * epoch was started on this database's cluster and timeline. After a restore into another cluster
   * (pg_dump/pg_restore), logged tx_ids can be ahead of the new cluster's counter: new changes would then sort
   * before old ones and cursors would skip them. In that case the old rows are shifted below zero (keeping their
   * order) and the epoch changes, so every client holding an old cursor resyncs. A new timeline or another
   * cluster (a promoted replica, a point-in-time recovery) may have lost the newest transactions and will hand out
   * their ids again: the epoch changes too.
   *
   * @return the epoch in force
   */
  public long ensureEpoch() {
    DatabaseIdentity identity = identity();
    return dsl.transactionResult(configuration -> {
      DSLContext tx = DSL.using(configuration);
      // Shifting a big restored change log takes as long as it takes; the pool's statement_timeout must not cancel
      // it (the server would then fail to start, every time).
      tx.execute("SET LOCAL statement_timeout = 0");
      tx.execute("LOCK TABLE sync_epoch IN EXCLUSIVE MODE");
      var current = tx.selectFrom(SYNC_EPOCH).fetchSingle();
      Long newest = tx.select(DSL.max(CHANGE_LOG.TX_ID)).from(CHANGE_LOG).fetchSingle().value1();
      long next = tx.select(DSL.field("pg_snapshot_xmax(pg_current_snapshot())::text::bigint", Long.class))
          .fetchSingle().value1();
      boolean ahead = newest != null && newest >= next;
      Optional<DatabaseIdentity> recorded = identityOf(current.getSystemIdentifier(), current.getTimelineId());
      boolean moved = moved(recorded, identity);
      if (!ahead && !moved) {
        if (!recorded.equals(Optional.of(identity))) {
          recordIdentity(tx, identity);
        }
        return current.getEpoch();
      }
      long epoch = new SecureRandom().nextLong(1, 1L << 53);
      if (ahead) {
        long shift = newest + 1;
        tx.update(CHANGE_LOG).set(CHANGE_LOG.TX_ID, CHANGE_LOG.TX_ID.minus(shift)).execute();
        // Positions kept beside the log move with it: a history floor left at the old ids would put every new
        // cursor below it (resync for ever), and acknowledged cursors would point past everything.
        tx.update(SYNC_EPOCH).set(SYNC_EPOCH.HISTORY_FLOOR_TX_ID, SYNC_EPOCH.HISTORY_FLOOR_TX_ID.minus(shift))
            .where(SYNC_EPOCH.HISTORY_FLOOR_TX_ID.gt(Long.MIN_VALUE + shift)).execute();
        tx.update(CLIENT_SYNC_STATUS).set(CLIENT_SYNC_STATUS.LAST_ACK_TX_ID, CLIENT_SYNC_STATUS.LAST_ACK_TX_ID.minus(shift))
            .where(CLIENT_SYNC_STATUS.LAST_ACK_TX_ID.isNotNull()).execute();
        log.warn("The change log holds transaction ids ({}) ahead of this cluster's ({}): the database was restored "
            + "into another cluster.", newest, next);
      }
      if (moved) {
        log.warn("The database is not the one the change-log epoch was started on (system identifier {}, timeline "
            + "{}; now {}): a replica was promoted or a backup restored.", current.getSystemIdentifier(),
            current.getTimelineId(), identity);
      }
      tx.update(SYNC_EPOCH).set(SYNC_EPOCH.EPOCH, epoch).execute();
      recordIdentity(tx, identity);
      if (moved) {
        forgetAcks(tx);  // positions of the lost history (a shift of the log moved them with it instead)
      }
      log.warn("Started change-log epoch {}; clients with older cursors will be told to resync.", epoch);
      return epoch;
    });
  }

  /**
   * Acknowledged cursors of a history the database no longer holds mean nothing (and, being "ahead", would keep
   * newer acks from being recorded): clients' next acks start afresh.
   */
  private static void forgetAcks(DSLContext tx) {
    tx.update(CLIENT_SYNC_STATUS)
        .setNull(CLIENT_SYNC_STATUS.LAST_ACK_CURSOR)
        .setNull(CLIENT_SYNC_STATUS.LAST_ACK_TX_ID)
        .setNull(CLIENT_SYNC_STATUS.LAST_ACK_CHANGE_ID)
        .execute();
  }

  private static void recordIdentity(DSLContext tx, DatabaseIdentity identity) {
    tx.update(SYNC_EPOCH)
        .set(SYNC_EPOCH.SYSTEM_IDENTIFIER, identity.systemIdentifier())
        .set(SYNC_EPOCH.TIMELINE_ID, identity.timeline())
        .execute();
  }

  /**
   * Whether the database now is another one than the epoch was started on: another timeline, or another cluster
   * when both identifiers are known. Nothing recorded yet (a database from before v9) is no evidence.
   */
  public static boolean moved(Optional<DatabaseIdentity> recorded, DatabaseIdentity now) {
    if (recorded.isEmpty()) {
      return false;
    }
    DatabaseIdentity then = recorded.get();
    boolean otherCluster = then.systemIdentifier() != null && now.systemIdentifier() != null
        && !then.systemIdentifier().equals(now.systemIdentifier());
    return otherCluster || then.timeline() != now.timeline();
  }

  private static Optional<DatabaseIdentity> identityOf(Long systemIdentifier, Long timeline) {
    return timeline == null ? Optional.empty() : Optional.of(new DatabaseIdentity(systemIdentifier, timeline));
  }

  /**
   * Replaces the epoch {@code stale} because the database went back in time under a running server (its watermark
   * fell below positions already handed out). Compare-and-set, so that several nodes noticing the same event agree
   * on one new epoch.
   *
   * @return the epoch in force afterwards
   */
  public long replaceEpoch(long stale) {
    DatabaseIdentity identity = identity();
    return dsl.transactionResult(configuration -> {
      DSLContext tx = DSL.using(configuration);
      long epoch = new SecureRandom().nextLong(1, 1L << 53);
      int replaced = tx.update(SYNC_EPOCH).set(SYNC_EPOCH.EPOCH, epoch).where(SYNC_EPOCH.EPOCH.eq(stale)).execute();
      if (replaced == 0) {
        return tx.select(SYNC_EPOCH.EPOCH).from(SYNC_EPOCH).fetchSingle().value1();
      }
      recordIdentity(tx, identity);
      forgetAcks(tx);
      log.warn("The database went back in time (restored or failed over while the server ran): started change-log "
          + "epoch {}; clients with older cursors will be told to resync.", epoch);
      return epoch;
    });
  }

  /** The identity the current epoch was started on, if it was recorded. */
  public Optional<DatabaseIdentity> epochIdentity() {
    var row = dsl.select(SYNC_EPOCH.SYSTEM_IDENTIFIER, SYNC_EPOCH.TIMELINE_ID).from(SYNC_EPOCH).fetchSingle();
    return identityOf(row.value1(), row.value2());
  }

  /**
   * The commit-time fingerprint of the history up to {@code position}: the last_modified_at (microseconds since
   * the epoch) of the newest change-log row at or before it and at or after the history floor; empty if there is
   * none. Every row at or before a position handed out is final, so the value never changes for a position of one
   * history; in a history restored from a copy, the same position names other rows with other times.
   */
  public OptionalLong anchorAt(Position position) {
    var found = dsl.select(CHANGE_LOG.LAST_MODIFIED_AT)
        .from(CHANGE_LOG, SYNC_EPOCH)
        .where(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).le(position.txId(), position.changeId()))
        .and(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID)
            .ge(SYNC_EPOCH.HISTORY_FLOOR_TX_ID, SYNC_EPOCH.HISTORY_FLOOR_CHANGE_ID))
        .orderBy(CHANGE_LOG.TX_ID.desc(), CHANGE_LOG.CHANGE_ID.desc())
        .limit(1)
        .fetchOptional();
    return found.map(row -> OptionalLong.of(micros(row.value1()))).orElse(OptionalLong.empty());
  }

  /** Microseconds since the epoch, exactly as PostgreSQL keeps timestamps. */
  public static long micros(java.time.OffsetDateTime time) {
    return time.toEpochSecond() * 1_000_000 + time.getNano() / 1_000;
  }

  /** Serialization failure, deadlock: the transaction can simply run again. */
  public static boolean isRetryable(DataAccessException e) {
    String state = e.sqlState();
    return "40001".equals(state) || "40P01".equals(state);
  }

  /**
   * Whether an exception means the database could not be reached (connection refused, shutdown). A pool with no
   * free connection is not an outage: see {@link #isOverloaded}.
   */
  public static boolean isUnavailable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        String state = sql.getSQLState();
        // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now.
        if (state.startsWith("08") || state.startsWith("57P")) {
          return true;
        }
      }
      if (t instanceof java.net.ConnectException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether an exception means the server is busy, not that the database is gone: no pooled connection came free
   * within the bounded wait while the database itself answered (HikariCP then reports no underlying connection
   * failure), or a statement ran into statement_timeout (57014). Answered RESOURCE_EXHAUSTED: retry with backoff.
   */
  public static boolean isOverloaded(Throwable e) {
    if (isUnavailable(e)) {
      return false;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.sql.SQLTransientConnectionException) {
        return true;
      }
      if (t instanceof SQLException sql && "57014".equals(sql.getSQLState())) {
        return true;
      }
    }
    return false;
  }
}

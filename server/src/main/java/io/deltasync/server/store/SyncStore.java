package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.CLIENT_SYNC_STATUS;
import static io.deltasync.db.jooq.Tables.ENTITY;
import static io.deltasync.db.jooq.Tables.SYNC_EPOCH;

import java.security.SecureRandom;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
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
  private final ClientStatusRecorder clientStatus;

  /** Wraps the shared context. */
  public SyncStore(DSLContext dsl) {
    this.dsl = dsl;
    this.clientStatus = new ClientStatusRecorder(dsl);
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
        .map(row -> new ChangePage.Positioned(new Position(row.getTxId(), row.getChangeId()), Rows.change(row)))
        .toList();
    Position last = changes.isEmpty() ? after : changes.getLast().position();
    Position frontier = hasMore ? last : Position.max(last, Position.max(after, Position.below(xmin)));
    return new ChangePage(changes, frontier, hasMore);
  }

  /** The visibility watermark: every transaction with a smaller id has ended. */
  public long watermark() {
    return dsl.select(SNAPSHOT_XMIN).fetchSingle().value1();
  }

  /** The position after everything every reader can see now. */
  public Position visiblePosition() {
    return Position.below(watermark());
  }

  /**
   * A page of the current live entities matching {@code filter} but not {@code except} (empty = nothing
   * excepted), in key order after {@code after} (null = from the start). Each page is its own short statement: the caller makes the result consistent by taking the
   * watermark before the first page and catching up from it afterwards (changes at or above it are delivered
   * again, and applying a change is idempotent by row_version), instead of holding one long transaction open,
   * which would hold back every other reader's watermark.
   */
  public List<io.deltasync.v1.Entity> readLiveEntities(ChangeFilter filter, ChangeFilter except, EntityKey after,
      int limit) {
    Condition condition = ENTITY.IS_DELETED.isFalse().and(condition(filter, ENTITY.SCOPE, ENTITY.ENTITY_TYPE));
    if (!except.selectors().isEmpty()) {
      condition = condition.andNot(condition(except, ENTITY.SCOPE, ENTITY.ENTITY_TYPE));
    }
    if (after != null) {
      condition = condition.and(DSL.row(ENTITY.SCOPE, ENTITY.ENTITY_TYPE, ENTITY.ENTITY_ID)
          .gt(after.scope(), after.entityType(), after.entityId()));
    }
    return dsl.selectFrom(ENTITY)
        .where(condition)
        .orderBy(ENTITY.SCOPE, ENTITY.ENTITY_TYPE, ENTITY.ENTITY_ID)
        .limit(limit)
        .fetch(Rows::entity);
  }

  /**
   * The live entities of a scope as of {@code at}, rebuilt from the change log: for each entity its highest version
   * at or before that position, if that version is not a delete. Returned as (entity_type, entity_id, row_version),
   * sorted by entity_type then entity_id in code-point order (COLLATE "C" compares UTF-8 bytes, which sorts the same).
   */
  public List<EntityVersion> liveVersionsAt(String scope, Position at) {
    var latest = dsl.selectDistinct(CHANGE_LOG.ENTITY_TYPE, CHANGE_LOG.ENTITY_ID, CHANGE_LOG.ROW_VERSION,
            CHANGE_LOG.IS_DELETED)
        .on(CHANGE_LOG.ENTITY_TYPE.collate("C"), CHANGE_LOG.ENTITY_ID.collate("C"))
        .from(CHANGE_LOG)
        .where(CHANGE_LOG.SCOPE.eq(scope))
        .and(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).le(at.txId(), at.changeId()))
        // The highest version at or before the position, not the last by position: two writers of one entity can
        // commit so that version N+1 sits before N in the log, and clients keep the highest version they receive.
        .orderBy(CHANGE_LOG.ENTITY_TYPE.collate("C"), CHANGE_LOG.ENTITY_ID.collate("C"),
            CHANGE_LOG.ROW_VERSION.desc())
        .fetch();
    return latest.stream()
        .filter(row -> !row.value4())
        .map(row -> new EntityVersion(row.value1(), row.value2(), row.value3()))
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

  /** How many changes by others are visible after {@code after} (what a client has not acknowledged yet). */
  public long countChangesAfter(Position after, String exceptClientId) {
    long xmin = watermark();
    return dsl.fetchCount(dsl.selectOne().from(CHANGE_LOG)
        .where(DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(after.txId(), after.changeId()))
        .and(CHANGE_LOG.TX_ID.lt(xmin))
        .and(CHANGE_LOG.CLIENT_ID.isDistinctFrom(exceptClientId)));
  }

  private static Condition condition(ChangeFilter filter, Field<String> scope, Field<String> type) {
    if (filter.selectors().isEmpty()) {
      return DSL.noCondition();
    }
    Condition any = DSL.falseCondition();
    for (ChangeFilter.Selector selector : filter.selectors()) {
      Condition one = selector.entityType().map(type::eq).orElse(DSL.noCondition());
      if (!selector.scopes().isEmpty()) {
        one = one.and(scope.in(selector.scopes()));
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
   * Makes sure change-log positions are comparable with the transaction ids PostgreSQL hands out now. After a
   * restore into another cluster (pg_dump/pg_restore), logged tx_ids can be ahead of the new cluster's counter: new
   * changes would then sort before old ones and cursors would skip them. In that case the old rows are shifted
   * below zero (keeping their order) and the epoch changes, so every client holding an old cursor resyncs.
   *
   * @return the epoch in force
   */
  public long ensureEpoch() {
    return dsl.transactionResult(configuration -> {
      DSLContext tx = DSL.using(configuration);
      tx.execute("LOCK TABLE sync_epoch IN EXCLUSIVE MODE");
      Long newest = tx.select(DSL.max(CHANGE_LOG.TX_ID)).from(CHANGE_LOG).fetchSingle().value1();
      long next = tx.select(DSL.field("pg_snapshot_xmax(pg_current_snapshot())::text::bigint", Long.class))
          .fetchSingle().value1();
      if (newest == null || newest < next) {
        return tx.select(SYNC_EPOCH.EPOCH).from(SYNC_EPOCH).fetchSingle().value1();
      }
      long epoch = new SecureRandom().nextLong(1, 1L << 53);
      tx.update(CHANGE_LOG).set(CHANGE_LOG.TX_ID, CHANGE_LOG.TX_ID.minus(newest + 1)).execute();
      tx.update(SYNC_EPOCH).set(SYNC_EPOCH.EPOCH, epoch).execute();
      log.warn("The change log holds transaction ids ({}) ahead of this cluster's ({}): the database was restored "
          + "into another cluster. Started change-log epoch {}; clients with older cursors will be told to resync.",
          newest, next, epoch);
      return epoch;
    });
  }

  /** Serialization failure, deadlock: the transaction can simply run again. */
  public static boolean isRetryable(DataAccessException e) {
    String state = e.sqlState();
    return "40001".equals(state) || "40P01".equals(state);
  }

  /** Whether an exception means the database could not be reached (connection refused, pool timeout, shutdown). */
  public static boolean isUnavailable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && sql.getSQLState() != null) {
        String state = sql.getSQLState();
        // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now.
        if (state.startsWith("08") || state.startsWith("57P")) {
          return true;
        }
      }
      if (t instanceof java.sql.SQLTransientConnectionException) {
        return true;
      }
    }
    return false;
  }
}

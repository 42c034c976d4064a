package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.SYNC_EPOCH;

import java.security.SecureRandom;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;
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

  /**
   * The visibility watermark of the reading statement's own snapshot: every transaction with a smaller id has
   * ended, and every transaction still running or yet to start has an id at least this large.
   */
  private static final Field<Long> SNAPSHOT_XMIN =
      DSL.field("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", Long.class);

  private final DSLContext dsl;

  /** Wraps the shared context. */
  public SyncStore(DSLContext dsl) {
    this.dsl = dsl;
  }

  /**
   * Runs {@code work} in one READ COMMITTED transaction and returns its result after commit. Serialization
   * failures and deadlocks are retried (the work must be safe to run again, which a rolled-back transaction is).
   */
  public <T> T inTransaction(Function<WriteTransaction, T> work) {
    for (int attempt = 1; ; attempt++) {
      try {
        return dsl.transactionResult(configuration -> work.apply(new WriteTransaction(DSL.using(configuration))));
      } catch (DataAccessException e) {
        if (attempt >= MAX_ATTEMPTS || !isRetryable(e)) {
          throw e;
        }
        log.debug("Retrying transaction after {} (attempt {})", e.sqlState(), attempt);
      }
    }
  }

  /**
   * Reads the changes after position (txId, changeId) that every reader can already see, in commit order.
   * Only rows of transactions below this statement's snapshot xmin are returned, so a transaction that commits
   * later can never land behind a position handed out now.
   */
  public ChangePage readChanges(long txId, long changeId, int limit, Collection<String> entityTypes,
      Collection<String> scopes) {
    Condition filter = DSL.row(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID).gt(txId, changeId)
        .and(CHANGE_LOG.TX_ID.lt(SNAPSHOT_XMIN));
    if (!entityTypes.isEmpty()) {
      filter = filter.and(CHANGE_LOG.ENTITY_TYPE.in(entityTypes));
    }
    if (!scopes.isEmpty()) {
      filter = filter.and(CHANGE_LOG.SCOPE.in(scopes));
    }
    var rows = dsl.selectFrom(CHANGE_LOG)
        .where(filter)
        .orderBy(CHANGE_LOG.TX_ID, CHANGE_LOG.CHANGE_ID)
        .limit(limit + 1)
        .fetch();
    boolean hasMore = rows.size() > limit;
    List<ChangePage.Positioned> changes = rows.stream()
        .limit(limit)
        .map(row -> new ChangePage.Positioned(row.getTxId(), row.getChangeId(), Rows.change(row)))
        .toList();
    return new ChangePage(changes, hasMore);
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
  private static boolean isRetryable(DataAccessException e) {
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

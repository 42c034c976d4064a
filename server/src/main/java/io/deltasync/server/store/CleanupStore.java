package io.deltasync.server.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * The SQL of clean-up: each method deletes at most one batch in its own short transaction, oldest first, through an
 * index (V16), so no batch holds locks for long or rewrites a table; PostgreSQL's autovacuum reclaims the space.
 */
public final class CleanupStore {
  /** The advisory-lock key of clean-up: "deltasync" as a number, one runner per database at a time. */
  public static final long LOCK_KEY = 0x64656c746173796eL;

  private final DSLContext dsl;

  /** Clean-up over the shared context. */
  public CleanupStore(DSLContext dsl) {
    this.dsl = dsl;
  }

  /**
   * Takes clean-up's session advisory lock on {@code connection} without waiting; false if another session (another
   * node) holds it. The lock lasts until {@link #unlock} or until the connection closes, so a node that dies
   * mid-run never blocks the others.
   */
  public static boolean tryLock(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
      statement.setLong(1, LOCK_KEY);
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getBoolean(1);
      }
    }
  }

  /** Releases the lock {@link #tryLock} took on {@code connection}. */
  public static void unlock(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("SELECT pg_advisory_unlock(?)")) {
      statement.setLong(1, LOCK_KEY);
      statement.execute();
    }
  }

  /**
   * Purges up to {@code limit} tombstones deleted before {@code cutoff}. Unlogged (deltasync.purging): clients
   * learned of the delete from the change log; the key's version is kept in entity_version_mark (V11), so an id
   * created again continues above every version a client may hold. A tombstone written over concurrently (created
   * again) is locked by its writer and skipped, or no longer a tombstone when the delete re-checks it.
   */
  public int purgeTombstones(OffsetDateTime cutoff, int limit) {
    return dsl.transactionResult(cfg -> {
      DSLContext tx = DSL.using(cfg);
      tx.execute("SET LOCAL deltasync.purging = 'on'");
      return tx.execute("""
          DELETE FROM entity e USING (
            SELECT scope, entity_type, entity_id FROM entity
            WHERE is_deleted AND last_modified_at < {0}
            ORDER BY last_modified_at LIMIT {1}
            FOR UPDATE SKIP LOCKED) old
          WHERE (e.scope, e.entity_type, e.entity_id) = (old.scope, old.entity_type, old.entity_id)
            AND e.is_deleted AND e.last_modified_at < {0}
          """, DSL.val(cutoff), DSL.val(limit));
    });
  }

  /** How many tombstones were deleted before {@code cutoff}. */
  public long countTombstones(OffsetDateTime cutoff) {
    return count("SELECT count(*) FROM entity WHERE is_deleted AND last_modified_at < {0}", cutoff);
  }

  /**
   * The position of the last of the oldest (up to {@code limit}) change-log entries, in commit order, that were
   * written before {@code cutoff}, below the watermark (every transaction there has ended, so no entry can appear
   * behind it later); empty if the oldest entry is newer. Stops at the first newer entry: the log is purged as a
   * prefix, so that one history floor describes what is gone.
   */
  public Optional<Position> changeLogPrefix(OffsetDateTime cutoff, int limit) {
    var rows = dsl.resultQuery("""
        SELECT tx_id, change_id, last_modified_at < {0} AS old FROM change_log
        WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
          AND (tx_id, change_id) > (SELECT history_floor_tx_id, history_floor_change_id FROM sync_epoch)
        ORDER BY tx_id, change_id LIMIT {1}
        """, DSL.val(cutoff), DSL.val(limit)).fetch();
    Position last = null;
    for (var row : rows) {
      if (!row.get(2, Boolean.class)) {
        break;
      }
      last = new Position(row.get(0, Long.class), row.get(1, Long.class));
    }
    return Optional.ofNullable(last);
  }

  /**
   * Raises the history floor to {@code position} (never lowers it) and commits, before anything below it is deleted:
   * from then on a cursor below it is answered with resync, and a catch-up page read before the raise saw every entry.
   */
  public void raiseHistoryFloor(Position position) {
    dsl.execute("""
        UPDATE sync_epoch SET (history_floor_tx_id, history_floor_change_id) = ({0}, {1})
        WHERE (history_floor_tx_id, history_floor_change_id) < ({0}, {1})
        """, DSL.val(position.txId()), DSL.val(position.changeId()));
  }

  /**
   * Deletes the change-log entries at or below {@code position} that are above the previous floor (one batch). The
   * statement trigger of V11 keeps each key's highest version in entity_version_mark.
   */
  public int purgeChangeLogUpTo(Position previousFloor, Position position) {
    return dsl.execute("""
        DELETE FROM change_log
        WHERE (tx_id, change_id) <= ({0}, {1}) AND (tx_id, change_id) >= ({2}, {3})
        """, DSL.val(position.txId()), DSL.val(position.changeId()), DSL.val(previousFloor.txId()),
        DSL.val(previousFloor.changeId()));
  }

  /** How many change-log entries below the watermark were written before {@code cutoff}. */
  public long countChangeLog(OffsetDateTime cutoff) {
    return count("SELECT count(*) FROM change_log WHERE last_modified_at < {0} "
        + "AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint", cutoff);
  }

  /** Purges up to {@code limit} idempotency records written before {@code cutoff}. */
  public int purgeAppliedDeltas(OffsetDateTime cutoff, int limit) {
    return dsl.execute("""
        DELETE FROM applied_delta a USING (
          SELECT client_id, delta_id FROM applied_delta WHERE applied_at < {0}
          ORDER BY applied_at LIMIT {1} FOR UPDATE SKIP LOCKED) old
        WHERE (a.client_id, a.delta_id) = (old.client_id, old.delta_id)
        """, DSL.val(cutoff), DSL.val(limit));
  }

  /** How many idempotency records were written before {@code cutoff}. */
  public long countAppliedDeltas(OffsetDateTime cutoff) {
    return count("SELECT count(*) FROM applied_delta WHERE applied_at < {0}", cutoff);
  }

  /** Purges up to {@code limit} status rows of clients last heard from before {@code cutoff}. */
  public int purgeClientStatuses(OffsetDateTime cutoff, int limit) {
    return dsl.execute("""
        DELETE FROM client_sync_status c USING (
          SELECT client_id FROM client_sync_status WHERE last_seen_at < {0}
          ORDER BY last_seen_at LIMIT {1} FOR UPDATE SKIP LOCKED) old
        WHERE c.client_id = old.client_id AND c.last_seen_at < {0}
        """, DSL.val(cutoff), DSL.val(limit));
  }

  /** How many clients were last heard from before {@code cutoff}. */
  public long countClientStatuses(OffsetDateTime cutoff) {
    return count("SELECT count(*) FROM client_sync_status WHERE last_seen_at < {0}", cutoff);
  }

  /** Purges up to {@code limit} conflicts resolved before {@code cutoff} (open ones are never purged). */
  public int purgeResolvedConflicts(OffsetDateTime cutoff, int limit) {
    return dsl.execute("""
        DELETE FROM conflict c USING (
          SELECT conflict_id FROM conflict WHERE resolved_at < {0}
          ORDER BY resolved_at LIMIT {1} FOR UPDATE SKIP LOCKED) old
        WHERE c.conflict_id = old.conflict_id
        """, DSL.val(cutoff), DSL.val(limit));
  }

  /** How many conflicts were resolved before {@code cutoff}. */
  public long countResolvedConflicts(OffsetDateTime cutoff) {
    return count("SELECT count(*) FROM conflict WHERE resolved_at < {0}", cutoff);
  }

  private long count(String sql, OffsetDateTime cutoff) {
    return dsl.resultQuery(sql, DSL.val(cutoff)).fetchSingle().get(0, Long.class);
  }
}

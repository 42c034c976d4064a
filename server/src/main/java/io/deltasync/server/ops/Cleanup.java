package io.deltasync.server.ops;

import io.deltasync.server.OpsConfig;
import io.deltasync.server.store.CleanupStore;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Purges what the server no longer needs: tombstones, change-log entries, idempotency records, client status rows
 * and resolved conflicts past their retentions. One runner per database at a time (a session advisory lock on a
 * connection of its own); each batch is its own short transaction, so clients push and stream throughout.
 */
public final class Cleanup {
  private static final Logger log = LoggerFactory.getLogger(Cleanup.class);

  /** Opens the connection that holds the advisory lock for one run (not from the pool: a run may take long). */
  @FunctionalInterface
  public interface LockConnections {
    /** A new connection, owned by the caller. */
    Connection open() throws SQLException;
  }

  /**
   * What to purge.
   *
   * @param tombstones tombstones deleted longer ago than this
   * @param changeLog change-log entries written longer ago than this
   * @param appliedDeltas idempotency records written longer ago than this
   * @param clientStatuses status rows of clients not heard from for this long
   * @param resolvedConflicts conflicts resolved longer ago than this
   */
  public record Retention(Duration tombstones, Duration changeLog, Duration appliedDeltas, Duration clientStatuses,
      Duration resolvedConflicts) {
    /** The configured retentions. */
    public static Retention of(Duration tombstones, OpsConfig ops) {
      return new Retention(tombstones, ops.changeLogRetention(), ops.appliedDeltaRetention(),
          ops.clientStatusRetention(), ops.resolvedConflictRetention());
    }

    /** A copy with another tombstone retention. */
    public Retention withTombstones(Duration newTombstones) {
      return new Retention(newTombstones, changeLog, appliedDeltas, clientStatuses, resolvedConflicts);
    }
  }

  /**
   * What a run purged (or, dry, would purge).
   *
   * @param ran false if another runner held the lock and nothing was done
   * @param tombstoneCutoff tombstones deleted before this were purged
   * @param changeLogCutoff change-log entries written before this were purged
   * @param tombstones tombstones purged
   * @param changeLog change-log entries purged
   * @param appliedDeltas idempotency records purged
   * @param clientStatuses client status rows purged
   * @param resolvedConflicts resolved conflicts purged
   */
  public record Report(boolean ran, OffsetDateTime tombstoneCutoff, OffsetDateTime changeLogCutoff, long tombstones,
      long changeLog, long appliedDeltas, long clientStatuses, long resolvedConflicts) {}

  private final CleanupStore store;
  private final SyncStore syncStore;
  private final LockConnections connections;
  private final Retention retention;
  private final int batchSize;
  private final Clock clock;
  private final MeterRegistry registry;

  /**
   * Clean-up over {@code store}; {@code clock} decides what is old (tests move it forward).
   *
   * @param syncStore where the history floor is read
   */
  public Cleanup(CleanupStore store, SyncStore syncStore, LockConnections connections, Retention retention,
      int batchSize, Clock clock, MeterRegistry registry) {
    this.store = store;
    this.syncStore = syncStore;
    this.connections = connections;
    this.retention = retention;
    this.batchSize = batchSize;
    this.clock = clock;
    this.registry = registry;
  }

  /** The configured retentions. */
  public Retention retention() {
    return retention;
  }

  /** Runs once with the configured retentions. */
  public Report run(boolean dryRun) {
    return run(retention, dryRun);
  }

  /** Runs once with {@code retention}; returns {@code ran == false} if another runner holds the lock. */
  public Report run(Retention retention, boolean dryRun) {
    OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
    OffsetDateTime tombstoneCutoff = now.minus(retention.tombstones());
    OffsetDateTime changeLogCutoff = now.minus(retention.changeLog());
    OffsetDateTime appliedCutoff = now.minus(retention.appliedDeltas());
    OffsetDateTime clientCutoff = now.minus(retention.clientStatuses());
    OffsetDateTime conflictCutoff = now.minus(retention.resolvedConflicts());
    try (Connection lock = connections.open()) {
      if (!CleanupStore.tryLock(lock)) {
        registry.counter("deltasync.cleanup.runs", "result", "skipped").increment();
        return new Report(false, tombstoneCutoff, changeLogCutoff, 0, 0, 0, 0, 0);
      }
      try {
        Report report = dryRun
            ? new Report(true, tombstoneCutoff, changeLogCutoff, store.countTombstones(tombstoneCutoff),
                store.countChangeLog(changeLogCutoff), store.countAppliedDeltas(appliedCutoff),
                store.countClientStatuses(clientCutoff), store.countResolvedConflicts(conflictCutoff))
            : new Report(true, tombstoneCutoff, changeLogCutoff,
                batches("tombstones", () -> store.purgeTombstones(tombstoneCutoff, batchSize)),
                purgeChangeLog(changeLogCutoff),
                batches("applied_deltas", () -> store.purgeAppliedDeltas(appliedCutoff, batchSize)),
                batches("client_statuses", () -> store.purgeClientStatuses(clientCutoff, batchSize)),
                batches("resolved_conflicts", () -> store.purgeResolvedConflicts(conflictCutoff, batchSize)));
        registry.counter("deltasync.cleanup.runs", "result", dryRun ? "dry_run" : "done").increment();
        if (!dryRun) {
          log.info("Clean-up purged {} tombstones, {} change-log entries, {} applied deltas, {} client statuses, {} "
              + "resolved conflicts", report.tombstones(), report.changeLog(), report.appliedDeltas(),
              report.clientStatuses(), report.resolvedConflicts());
        }
        return report;
      } finally {
        CleanupStore.unlock(lock);
      }
    } catch (SQLException e) {
      registry.counter("deltasync.cleanup.runs", "result", "failed").increment();
      throw new org.jooq.exception.DataAccessException("clean-up: " + e.getMessage(), e);
    }
  }

  /** Repeats one batch until a batch finds less than a full batch. */
  private long batches(String kind, java.util.function.IntSupplier batch) {
    long total = 0;
    while (true) {
      int deleted = batch.getAsInt();
      total += deleted;
      registry.counter("deltasync.cleanup.purged", "kind", kind).increment(deleted);
      if (deleted < batchSize) {
        return total;
      }
    }
  }

  /**
   * The change log goes as a prefix in commit order: the floor is raised past a batch (committed) before the batch
   * is deleted, so a cursor inside it is answered with resync, never served with a gap.
   */
  private long purgeChangeLog(OffsetDateTime cutoff) {
    long total = 0;
    while (true) {
      Optional<Position> prefix = store.changeLogPrefix(cutoff, batchSize);
      if (prefix.isEmpty()) {
        return total;
      }
      Position floor = syncStore.historyFloor();
      store.raiseHistoryFloor(prefix.get());
      int deleted = store.purgeChangeLogUpTo(floor, prefix.get());
      total += deleted;
      registry.counter("deltasync.cleanup.purged", "kind", "change_log").increment(deleted);
    }
  }
}

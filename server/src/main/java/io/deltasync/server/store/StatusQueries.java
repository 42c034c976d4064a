package io.deltasync.server.store;

import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** The SQL of GetStatus: each query bounded in cost, whatever the size of the tables. */
public final class StatusQueries {
  /** Up to this many pending changes are counted exactly; past it, the count is estimated. */
  public static final int EXACT_PENDING_LIMIT = 10_000;

  private final DSLContext dsl;

  /** Queries over the shared context. */
  public StatusQueries(DSLContext dsl) {
    this.dsl = dsl;
  }

  /**
   * The changes visible after a position.
   *
   * @param count how many
   * @param estimated whether {@code count} is an estimate
   */
  public record Pending(long count, boolean estimated) {}

  /**
   * How many changes are visible after {@code after}: counted exactly through the position index, reading at most
   * {@link #EXACT_PENDING_LIMIT} + 1 entries; past that, estimated from the change log's identity column (the newest
   * change_id less the position's), which may count inserts of transactions that rolled back or are still running.
   * Only changes in {@code readable} scopes count; for a caller restricted to some scopes the estimate over the whole
   * log would reveal other scopes' activity, so past the limit it gets the lower bound (limit + 1), marked estimated.
   */
  public Pending pendingAfter(Position after, ScopeSet readable) {
    long exact = dsl.resultQuery("""
        SELECT count(*) FROM (
          SELECT 1 FROM change_log
          WHERE (tx_id, change_id) > ({0}, {1}) AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
            AND {3}
          LIMIT {2}) pending
        """, DSL.val(after.txId()), DSL.val(after.changeId()), DSL.val(EXACT_PENDING_LIMIT + 1),
        ScopeSet.condition(readable, DSL.field(DSL.name("change_log", "scope"), String.class)))
        .fetchSingle().get(0, Long.class);
    if (exact <= EXACT_PENDING_LIMIT) {
      return new Pending(exact, false);
    }
    if (!readable.all()) {
      return new Pending(exact, true);
    }
    Long newest = dsl.resultQuery("SELECT max(change_id) FROM change_log").fetchSingle().get(0, Long.class);
    return new Pending(Math.max(exact, newest == null ? 0 : newest - after.changeId()), true);
  }

  /** The client's conflicts waiting in the manual queue (the queue is bounded, so is this count). */
  public long openConflicts(String clientId) {
    return dsl.resultQuery("SELECT count(*) FROM conflict WHERE client_id = {0} AND resolved_at IS NULL",
        DSL.val(clientId)).fetchSingle().get(0, Long.class);
  }

  /** The newest migration applied (Flyway's history), for example "16". */
  public String schemaVersion() {
    return dsl.resultQuery("""
        SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL
        ORDER BY installed_rank DESC LIMIT 1
        """).fetchOptional().map(r -> r.get(0, String.class)).orElse("");
  }
}

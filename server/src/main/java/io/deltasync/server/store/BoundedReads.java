package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.ENTITY;

import io.deltasync.v1.Change;
import io.deltasync.v1.Operation;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Query;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;

/**
 * The stream's catch-up and initial-state reads, bounded by bytes in the query itself: PostgreSQL keeps a running sum
 * of the rows' sizes over the ordered rows (a window over the index range scan with its LIMIT) and returns rows while
 * that sum stays within the read's budget, always at least one. So a read never brings more than its budget (plus
 * one row larger than the budget on its own) onto the heap, whatever the row count asked for: a jump from small rows
 * to large documents no longer reads the row count of small rows in large documents.
 *
 * <p>A row's size is estimated from its text: the documents as jsonb prints them plus its strings and a fixed
 * allowance for the rest ({@link #ROW_OVERHEAD_BYTES}); close to its serialized size for text-heavy documents, below
 * it for number-heavy ones (a number is 9 bytes in a protobuf Value). The page is cut exactly by serialized size
 * afterwards ({@code stream.PageSizer}); this bound is on what one read holds.
 *
 * <p>Rows are read from the driver's ResultSet straight into the wire {@link Change} (no jOOQ records): jOOQ renders
 * the filter's condition, the statement runs on a pooled connection through {@link DSLContext#connectionResult}.
 */
final class BoundedReads {
  /** Bytes allowed per row beyond its documents and strings: timestamps, numbers, tags, the cursor set later. */
  static final int ROW_OVERHEAD_BYTES = 128;

  // Since start, for tests and diagnostics: reads, the rows and estimated bytes they returned, and reads of more than
  // one row whose estimated bytes exceeded their budget (none while the query keeps its promise).
  private static final AtomicLong READS = new AtomicLong();
  private static final AtomicLong ROWS = new AtomicLong();
  private static final AtomicLong BYTES = new AtomicLong();
  private static final AtomicLong OVER_BUDGET = new AtomicLong();

  private final DSLContext dsl;
  private final SyncStore store;

  BoundedReads(DSLContext dsl, SyncStore store) {
    this.dsl = dsl;
    this.store = store;
  }

  /** What the reads returned since start. */
  static SyncStore.BoundedReadStats stats() {
    return new SyncStore.BoundedReadStats(READS.get(), ROWS.get(), BYTES.get(), OVER_BUDGET.get());
  }

  /** A read's rows, whether more rows followed the last one (cut by bytes or by count), and their estimated bytes. */
  record Read<T>(List<T> rows, boolean followed, long bytes) {}

  // The rows of one page: an index range scan with its LIMIT (the innermost query, documents printed once), their
  // sizes, the running sum in the order they come, and the rows whose running sum is within the budget (the first
  // always). The window and the outer query have no ORDER BY of their own: they take the rows in the order the
  // innermost query returns them (a subquery scan, a window over it and a filter keep it), so PostgreSQL does not
  // sort again. With one; it did, where the filter fixes the first key of the order (one scope: an ORDER BY
  // scope, entity_type, entity_id inside is known sorted on the last two only, outside on none). The reader checks
  // that the running sum grows row after row, which it does only in the order it was summed.
  private static final String BOUNDED = """
      SELECT * FROM (
        SELECT r.*, sum(r.row_bytes) OVER w AS bytes_through, lead(r.row_bytes) OVER w IS NOT NULL AS followed
        FROM (
          SELECT l.*, %s AS row_bytes
          FROM (SELECT %s FROM {0} WHERE {1} ORDER BY %s LIMIT {2}) l
        ) r
        WINDOW w AS (ROWS UNBOUNDED PRECEDING)
      ) q
      WHERE q.bytes_through <= {3} OR q.bytes_through = q.row_bytes""";

  private static final String LOG_COLUMNS = "tx_id, change_id, scope, entity_type, entity_id, operation, row_version, "
      + "etag, data::text AS data, sync_status, conflict_data::text AS conflict_data, is_deleted, last_modified_at, "
      + "last_modified_by, created_at, client_id, delta_id, edits::text AS edits";
  private static final String LOG_SIZE = sizeOf("data", "conflict_data", "edits", "scope", "entity_type",
      "entity_id", "etag", "last_modified_by", "client_id", "delta_id");
  private static final String LOG_QUERY = BOUNDED.formatted(LOG_SIZE, LOG_COLUMNS, "tx_id, change_id");

  private static final String ENTITY_COLUMNS = "scope, entity_type, entity_id, data::text AS data, row_version, etag, "
      + "last_modified_at, last_modified_by, sync_status, conflict_data::text AS conflict_data, is_deleted, created_at";
  private static final String ENTITY_SIZE = sizeOf("data", "conflict_data", "scope", "entity_type", "entity_id",
      "etag", "last_modified_by");
  private static final String ENTITY_QUERY = BOUNDED.formatted(ENTITY_SIZE, ENTITY_COLUMNS,
      "scope, entity_type, entity_id");

  /** A row's estimated size: its columns' bytes as text (NULL counts 0, never drops the row) and the overhead. */
  private static String sizeOf(String... columns) {
    StringBuilder sum = new StringBuilder();
    for (String column : columns) {
      sum.append("coalesce(octet_length(l.").append(column).append("), 0) + ");
    }
    return sum.append(ROW_OVERHEAD_BYTES).toString();
  }

  /** The change-log statement for {@code where}, as run (for EXPLAIN in tests). */
  Query changeLogQuery(Condition where, int limit, long budgetBytes) {
    return dsl.resultQuery(LOG_QUERY, CHANGE_LOG, where, DSL.val(limit), DSL.val(budgetBytes));
  }

  /** The entity statement for {@code where}, as run. */
  Query entityQuery(Condition where, int limit, long budgetBytes) {
    return dsl.resultQuery(ENTITY_QUERY, ENTITY, where, DSL.val(limit), DSL.val(budgetBytes));
  }

  /**
   * Change-log rows matching {@code where} in log order, up to {@code limit} rows and {@code budgetBytes}, each with
   * its cursor set by {@code cursors} as it is built (no copy of the change to set it afterwards).
   */
  Read<ChangePage.Positioned> changes(Condition where, int limit, long budgetBytes, SyncStore.CursorEncoder cursors) {
    DocumentWire wire = new DocumentWire();
    return run(changeLogQuery(where, limit, budgetBytes), budgetBytes, row -> {
      Position position = new Position(row.getLong(1), row.getLong(2));
      OffsetDateTime modifiedAt = row.getObject(13, OffsetDateTime.class);
      // The change's fingerprint: its commit time in microseconds, as ChangeFeed reads it from the change.
      String cursor = cursors.encode(position, modifiedAt == null ? 0 : SyncStore.micros(modifiedAt));
      LogRow raw = new LogRow(row.getString(3), row.getString(4), row.getString(5), row.getString(6),
          row.getLong(7), row.getString(8), row.getString(9), row.getString(10), row.getString(11),
          row.getBoolean(12), modifiedAt, row.getString(14),
          row.getObject(15, OffsetDateTime.class), row.getString(16), row.getString(17), row.getString(18));
      return new ChangePage.Positioned(position, store.carried(() -> raw.change(cursor, wire),
          why -> raw.degraded(why, cursor), "change " + position));
    });
  }

  /** Live entity rows matching {@code where} in key order, as creates, up to {@code limit} and {@code budgetBytes}. */
  Read<Change> entities(Condition where, int limit, long budgetBytes) {
    DocumentWire wire = new DocumentWire();
    return run(entityQuery(where, limit, budgetBytes), budgetBytes, row -> {
      LogRow raw = new LogRow(row.getString(1), row.getString(2), row.getString(3), "create", row.getLong(5),
          row.getString(6), row.getString(4), row.getString(9), row.getString(10), row.getBoolean(11),
          row.getObject(7, OffsetDateTime.class), row.getString(8), row.getObject(12, OffsetDateTime.class), null,
          null, null);
      return store.carried(() -> raw.create(wire), why -> raw.degradedCreate(why), "current state");
    });
  }

  private interface RowReader<T> {
    T read(ResultSet row) throws SQLException;
  }

  private <T> Read<T> run(Query query, long budgetBytes, RowReader<T> reader) {
    String sql = query.getSQL();
    List<Object> binds = query.getBindValues();
    Read<T> read = dsl.connectionResult(connection -> run(connection, sql, binds, reader));
    READS.incrementAndGet();
    ROWS.addAndGet(read.rows().size());
    BYTES.addAndGet(read.bytes());
    if (read.rows().size() > 1 && read.bytes() > budgetBytes) {
      OVER_BUDGET.incrementAndGet();
    }
    return read;
  }

  private static <T> Read<T> run(Connection connection, String sql, List<Object> binds, RowReader<T> reader) {
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      for (int i = 0; i < binds.size(); i++) {
        statement.setObject(i + 1, binds.get(i));
      }
      try (ResultSet row = statement.executeQuery()) {
        int sizeColumn = row.findColumn("row_bytes");
        int throughColumn = row.findColumn("bytes_through");
        int followedColumn = row.findColumn("followed");
        List<T> rows = new ArrayList<>();
        boolean followed = false;
        long bytes = 0;
        while (row.next()) {
          rows.add(reader.read(row));
          bytes += row.getLong(sizeColumn);
          if (row.getLong(throughColumn) != bytes) {
            // Every row is at least ROW_OVERHEAD_BYTES: the sum is this row's only in the order it was summed.
            throw new IllegalStateException("a bounded read returned its rows in another order than it summed them");
          }
          followed = row.getBoolean(followedColumn);
        }
        return new Read<>(rows, followed, bytes);
      }
    } catch (SQLException e) {
      // As jOOQ would: callers classify by SQLSTATE (DataAccessException#sqlState reads the cause's).
      throw new DataAccessException("SQL [" + sql + "]; " + e.getMessage(), e);
    }
  }

  /** One row of change_log (or of entity, as a create) as the driver returned it, documents as jsonb's text. */
  private record LogRow(String scope, String type, String id, String operation, long rowVersion, String etag,
      String data, String syncStatus, String conflictData, boolean deleted, OffsetDateTime modifiedAt,
      String modifiedBy, OffsetDateTime createdAt, String clientId, String deltaId, String edits) {
    Change change(String cursor, DocumentWire wire) {
      Rows.requireRepresentable(modifiedAt, createdAt);
      return Rows.change(scope, type, id, operation, rowVersion, etag, data, syncStatus, conflictData, deleted,
          modifiedAt, modifiedBy, createdAt, clientId, deltaId, edits, cursor, wire);
    }

    Change degraded(com.google.rpc.Status why, String cursor) {
      return Rows.degradedChange(scope, type, id, operation, rowVersion, etag, modifiedAt, modifiedBy, syncStatus,
          deleted, createdAt, clientId, deltaId, why).toBuilder().setCursor(cursor).build();
    }

    Change create(DocumentWire wire) {
      Rows.requireRepresentable(modifiedAt, createdAt);
      return Change.newBuilder().setOperation(Operation.OPERATION_CREATE).setEntity(Rows.entity(scope, type, id,
          data, rowVersion, etag, modifiedAt, modifiedBy, syncStatus, conflictData, deleted, createdAt, wire))
          .build();
    }

    Change degradedCreate(com.google.rpc.Status why) {
      return Rows.degradedCreate(scope, type, id, rowVersion, etag, modifiedAt, modifiedBy, syncStatus, deleted,
          createdAt, why);
    }
  }
}

package io.deltasync.server.store;

import com.google.protobuf.Struct;
import io.deltasync.v1.Entity;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * The single-delta claim-and-write: the idempotency claim and the delta's plain write (a create, or a
 * compare-and-set update) as one statement with a fixed text, run through the driver. Its one row says whether the
 * claim was made and, if the write happened, the written entity.
 *
 * <p>Fixed text through a {@link PreparedStatement}, not jOOQ: this is the statement every single delta runs, and a
 * profile of single-delta pushes put a fifth of the JVM's samples in jOOQ parsing the plain-SQL text, rendering it
 * and mapping every column of the written row into a record (docs/performance.md, "Single deltas"). The text never
 * varies (the compare-and-set's expectations are binds that may be empty, as in {@link PlainWrites}), so PgJDBC
 * prepares it once per connection and the server plans it once. The row carries its writer (schema V14), so no
 * trigger settings are made: the triggers take client, delta and clock from the row, as for set-based writes. It
 * also sets {@code writer_supplied} (V22), so the row's writer counts even when it is the pair the row already holds
 * (a delta id used again after its idempotency record expired, for the entity its first use wrote).
 */
final class SingleWrites {
  // The write comes first and the claim after it, in the same statement, and the claim stores the written row
  // (applied_delta.written_entity, V19): a plainly applied delta's result is APPLIED with exactly that entity, so
  // it needs no second write of its idempotency row (docs/performance.md, "Fourth part"). The write is gated on
  // the statement's snapshot showing no claim of the delta (a retry of a delta applied before writes nothing).
  // What that snapshot cannot show is the claim of a concurrent transaction. A concurrent identical retry's write
  // misses (its create meets the entity, its compare-and-set the new version: every update names a base), and its
  // claim then waits for the other transaction's and finds it: answered from it. The same delta id used at the same
  // time for another entity (a client reusing ids) does write; its claim then finds the other's, the statement
  // answers "written, not claimed", and run() fails the transaction as a serialization failure (40001), so that
  // write never commits and the batch runs again (then the claim is visible: the id is reported reused).
  private static final String GATE = """
      WITH gate AS (SELECT NOT EXISTS (SELECT 1 FROM applied_delta WHERE client_id = ? AND delta_id = ?) AS open),
           sent AS (SELECT ?::jsonb AS doc, ?::boolean AS eligible),
      """;
  // The written row, and whether its data is the delta's own document (V23, issue 11 fifth part): equal as jsonb to
  // what was sent (jsonb compares numbers by value, so a number kept in its stored exact form that is a different
  // decimal, deltasync_keep_exact, makes it unequal), for a document Json.asStored applies to (eligible). Such a
  // write's claim stores the entity without data (written_meta), the statement does not return it, and the result's
  // data is built from the delta (Rows.written with the sent document, Json.asStored): the same Struct the stored
  // jsonb reads back as. Anything else (a deployment's trigger that changes data, kept exact numbers, numbers too
  // large for Json.asStored) stores and returns the data as before.
  private static final String JUDGED = """
           judged AS (SELECT w.*, (SELECT eligible FROM sent) AND w.data = (SELECT doc FROM sent) AS as_sent
                      FROM written w),
      """;
  // Only what Rows.written reads; a retry reads it back as an entity row (jsonb_populate_record, WriteTransaction).
  private static final String CLAIM = """
           claim AS (INSERT INTO applied_delta (client_id, delta_id, delta_digest, written_entity, written_meta)
                     SELECT ?, ?, ?,
                         (SELECT CASE WHEN j.as_sent THEN NULL ELSE jsonb_build_object('scope', j.scope,
                             'entity_type', j.entity_type, 'entity_id', j.entity_id, 'data', j.data,
                             'row_version', j.row_version, 'etag', j.etag, 'last_modified_at', j.last_modified_at,
                             'last_modified_by', j.last_modified_by, 'sync_status', j.sync_status,
                             'conflict_data', j.conflict_data, 'is_deleted', j.is_deleted,
                             'created_at', j.created_at) END FROM judged j),
                         (SELECT CASE WHEN j.as_sent THEN jsonb_build_object('scope', j.scope,
                             'entity_type', j.entity_type, 'entity_id', j.entity_id,
                             'row_version', j.row_version, 'etag', j.etag, 'last_modified_at', j.last_modified_at,
                             'last_modified_by', j.last_modified_by, 'sync_status', j.sync_status,
                             'conflict_data', j.conflict_data, 'is_deleted', j.is_deleted,
                             'created_at', j.created_at) END FROM judged j)
                     ON CONFLICT DO NOTHING RETURNING 1)
      """;
  private static final String ANSWER = """
      SELECT EXISTS (SELECT 1 FROM claim) AS claimed, j.scope, j.entity_type, j.entity_id,
             CASE WHEN j.as_sent THEN NULL ELSE j.data END AS data, j.row_version, j.etag, j.last_modified_at,
             j.last_modified_by, j.sync_status, j.conflict_data, j.is_deleted, j.created_at, j.writer_delta_id
      FROM (SELECT 1) AS one LEFT JOIN judged j ON true""";

  static final String INSERT = GATE + """
           written AS (INSERT INTO entity (scope, entity_type, entity_id, data, last_modified_by, writer_client_id,
                                           writer_delta_id, write_clock_us, writer_supplied)
                       SELECT ?, ?, ?, (SELECT doc FROM sent), ?, ?, ?, ?, true WHERE (SELECT open FROM gate)
                       ON CONFLICT DO NOTHING
                       RETURNING *),
      """ + JUDGED + CLAIM + ANSWER;

  // Keeps every stored value the new document equals exactly as stored (deltasync_keep_exact, V8), as the
  // set-based statement does.
  static final String REPLACE = GATE + """
           written AS (UPDATE entity e SET data = deltasync_keep_exact(e.data, (SELECT doc FROM sent)),
                                           row_version = e.row_version + 1, last_modified_by = ?,
                                           writer_client_id = ?, writer_delta_id = ?, write_clock_us = ?,
                                           writer_supplied = true
                       WHERE e.scope = ? AND e.entity_type = ? AND e.entity_id = ? AND NOT e.is_deleted
                         AND (?::bigint = 0 OR e.row_version = ?::bigint) AND (?::text = '' OR e.etag = ?::text)
                         AND (SELECT open FROM gate)
                       RETURNING e.*),
      """ + JUDGED + CLAIM + ANSWER;

  /**
   * What the statement did.
   *
   * @param claimed whether it made the claim (false: the delta was claimed before, and nothing was written)
   * @param written the entity after the write; empty if nothing was written (not claimed, or a miss)
   */
  record Outcome(boolean claimed, Optional<Entity> written) {}

  private SingleWrites() {}

  static Outcome insert(DSLContext tx, String clientId, String deltaId, byte[] digest, long writeClockMicros,
      EntityKey key, String dataJson, Struct document) {
    return run(tx, INSERT, document, statement -> {
      statement.setString(1, clientId);
      statement.setString(2, deltaId);
      statement.setString(3, dataJson);
      statement.setBoolean(4, Json.asStoredApplies(document));
      statement.setString(5, key.scope());
      statement.setString(6, key.entityType());
      statement.setString(7, key.entityId());
      statement.setString(8, clientId);
      statement.setString(9, clientId);
      statement.setString(10, deltaId);
      statement.setLong(11, writeClockMicros);
      claimBinds(statement, 12, clientId, deltaId, digest);
    });
  }

  static Outcome replace(DSLContext tx, String clientId, String deltaId, byte[] digest, long writeClockMicros,
      EntityKey key, Expected base, String dataJson, Struct document) {
    return run(tx, REPLACE, document, statement -> {
      statement.setString(1, clientId);
      statement.setString(2, deltaId);
      statement.setString(3, dataJson);
      statement.setBoolean(4, Json.asStoredApplies(document));
      statement.setString(5, clientId);
      statement.setString(6, clientId);
      statement.setString(7, deltaId);
      statement.setLong(8, writeClockMicros);
      statement.setString(9, key.scope());
      statement.setString(10, key.entityType());
      statement.setString(11, key.entityId());
      statement.setLong(12, base.rowVersion());
      statement.setLong(13, base.rowVersion());
      statement.setString(14, base.etag());
      statement.setString(15, base.etag());
      claimBinds(statement, 16, clientId, deltaId, digest);
    });
  }

  private static void claimBinds(PreparedStatement statement, int first, String clientId, String deltaId,
      byte[] digest) throws SQLException {
    statement.setString(first, clientId);
    statement.setString(first + 1, deltaId);
    statement.setBytes(first + 2, digest);
  }

  private interface Binder {
    void bind(PreparedStatement statement) throws SQLException;
  }

  private static Outcome run(DSLContext tx, String sql, Struct document, Binder binds) {
    // The transaction's own connection (jOOQ hands out the one its transaction runs on).
    return tx.connectionResult(connection -> run(connection, sql, document, binds));
  }

  private static Outcome run(Connection connection, String sql, Struct document, Binder binds) {
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      binds.bind(statement);
      try (ResultSet row = statement.executeQuery()) {
        if (!row.next()) {
          throw new IllegalStateException("the claim-and-write statement returned no row");
        }
        boolean claimed = row.getBoolean("claimed");
        row.getLong("row_version");
        Optional<Entity> written = row.wasNull() ? Optional.empty() : Optional.of(Rows.written(row, document));
        if (!claimed && written.isPresent()) {
          // Written, but a concurrent transaction claimed the delta first (see the class comment): this write must
          // not commit. A serialization failure rolls the transaction back and runs the batch again.
          throw new DataAccessException("delta " + row.getString("writer_delta_id") + " was claimed by a concurrent "
              + "transaction after this one wrote; rolled back", new SQLException("written but not claimed",
              "40001"));
        }
        return new Outcome(claimed, written);
      }
    } catch (SQLException e) {
      // As jOOQ would: callers classify by SQLSTATE (DataAccessException#sqlState reads the cause's).
      throw new DataAccessException("SQL [" + sql + "]; " + e.getMessage(), e);
    }
  }
}

package io.deltasync.server.store;

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
 * trigger settings are made: the triggers take client, delta and clock from the row, as for set-based writes.
 */
final class SingleWrites {
  // Data-modifying CTEs run to completion; the write is gated on the claim (EXISTS), so the claim happens first,
  // exactly as when it was its own statement: a concurrent retry of the same delta blocks on applied_delta's
  // primary key until this transaction ends, then claims nothing and writes nothing.
  private static final String CLAIM = """
      WITH claim AS (INSERT INTO applied_delta (client_id, delta_id, delta_digest) VALUES (?, ?, ?)
                     ON CONFLICT DO NOTHING RETURNING 1),
      """;
  private static final String ANSWER = """
      SELECT EXISTS (SELECT 1 FROM claim) AS claimed, w.* FROM (SELECT 1) AS one LEFT JOIN written w ON true""";

  static final String INSERT = CLAIM + """
           written AS (INSERT INTO entity (scope, entity_type, entity_id, data, last_modified_by, writer_client_id,
                                           writer_delta_id, write_clock_us)
                       SELECT ?, ?, ?, ?::jsonb, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM claim)
                       ON CONFLICT DO NOTHING
                       RETURNING *)
      """ + ANSWER;

  // Keeps every stored value the new document equals exactly as stored (deltasync_keep_exact, V8), as the
  // set-based statement does.
  static final String REPLACE = CLAIM + """
           written AS (UPDATE entity e SET data = deltasync_keep_exact(e.data, ?::jsonb),
                                           row_version = e.row_version + 1, last_modified_by = ?,
                                           writer_client_id = ?, writer_delta_id = ?, write_clock_us = ?
                       WHERE e.scope = ? AND e.entity_type = ? AND e.entity_id = ? AND NOT e.is_deleted
                         AND (?::bigint = 0 OR e.row_version = ?::bigint) AND (?::text = '' OR e.etag = ?::text)
                         AND EXISTS (SELECT 1 FROM claim)
                       RETURNING e.*)
      """ + ANSWER;

  /**
   * What the statement did.
   *
   * @param claimed whether it made the claim (false: the delta was claimed before, and nothing was written)
   * @param written the entity after the write; empty if nothing was written (not claimed, or a miss)
   */
  record Outcome(boolean claimed, Optional<Entity> written) {}

  private SingleWrites() {}

  static Outcome insert(DSLContext tx, String clientId, String deltaId, byte[] digest, long writeClockMicros,
      EntityKey key, String dataJson) {
    return run(tx, INSERT, statement -> {
      claimBinds(statement, clientId, deltaId, digest);
      statement.setString(4, key.scope());
      statement.setString(5, key.entityType());
      statement.setString(6, key.entityId());
      statement.setString(7, dataJson);
      statement.setString(8, clientId);
      statement.setString(9, clientId);
      statement.setString(10, deltaId);
      statement.setLong(11, writeClockMicros);
    });
  }

  static Outcome replace(DSLContext tx, String clientId, String deltaId, byte[] digest, long writeClockMicros,
      EntityKey key, Expected base, String dataJson) {
    return run(tx, REPLACE, statement -> {
      claimBinds(statement, clientId, deltaId, digest);
      statement.setString(4, dataJson);
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
    });
  }

  private static void claimBinds(PreparedStatement statement, String clientId, String deltaId, byte[] digest)
      throws SQLException {
    statement.setString(1, clientId);
    statement.setString(2, deltaId);
    statement.setBytes(3, digest);
  }

  private interface Binder {
    void bind(PreparedStatement statement) throws SQLException;
  }

  private static Outcome run(DSLContext tx, String sql, Binder binds) {
    // The transaction's own connection (jOOQ hands out the one its transaction runs on).
    return tx.connectionResult(connection -> run(connection, sql, binds));
  }

  private static Outcome run(Connection connection, String sql, Binder binds) {
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      binds.bind(statement);
      try (ResultSet row = statement.executeQuery()) {
        if (!row.next()) {
          throw new IllegalStateException("the claim-and-write statement returned no row");
        }
        boolean claimed = row.getBoolean("claimed");
        row.getLong("row_version");
        Optional<Entity> written = row.wasNull() ? Optional.empty() : Optional.of(Rows.written(row));
        return new Outcome(claimed, written);
      }
    } catch (SQLException e) {
      // As jOOQ would: callers classify by SQLSTATE (DataAccessException#sqlState reads the cause's).
      throw new DataAccessException("SQL [" + sql + "]; " + e.getMessage(), e);
    }
  }
}

package io.deltasync.server.store;

import com.google.protobuf.Struct;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;

/**
 * The set-based write of many plain deltas of one client in one statement: the idempotency claims of all of them,
 * all creates as one {@code INSERT … ON CONFLICT DO NOTHING}, all compare-and-set updates and deletes as one
 * {@code UPDATE … FROM unnest(…)}, each row carrying its writer (schema V14) so the triggers log every row with its
 * own client, delta and clock. Every row also sets {@code writer_supplied} (V22): without it, a delta id used again
 * after its idempotency record expired, for the entity its first use wrote, supplies the pair the row already holds,
 * the trigger took the write for plain SQL, and the written row no longer matched its delta here (a false miss).
 */
final class PlainWrites {
  // One statement, one round trip. Data-modifying CTEs all run to completion and see the same snapshot. As in
  // SingleWrites (whose class comment says why this order is safe): the writes come first, gated on the snapshot
  // showing no claim of their delta ("open"), and the claims after them, each storing the entity its delta wrote
  // (applied_delta.written_entity, V19), so a plainly applied delta's result needs no second write of its row. A
  // delta claimed before writes nothing and is not claimed again (the caller answers it from its claim). A
  // concurrent identical retry's writes miss (creates meet the entities, compare-and-sets the new versions) and its
  // claims wait for the other transaction's, then find them; a delta written here whose claim a concurrent
  // transaction made first (its id reused at the same time for another entity) fails the transaction as a
  // serialization failure, so that write never commits. The caller guarantees that no entity and no delta id
  // appears twice in one call, so the writes never meet their own rows. Creates are inserted in batch order (WITH
  // ORDINALITY), so the change log has them in the order the client made them, as when each was its own statement;
  // the updates' order among themselves follows the plan (they are different entities of one transaction, and
  // clients apply by version). A write whose stored data equals (as jsonb) the document its delta sent (one
  // Json.asStored applies to), and a delete (whose result carries no data), is "as sent" (V23, issue 11 fifth part;
  // SingleWrites says why): its claim keeps the entity without data (written_meta), its data is not returned, and its
  // result's data is built from the delta (Rows.written with the sent document). Arrays (unnest), not VALUES: the
  // statement text is the same whatever the batch size, so it is parsed and planned as one prepared statement.
  private static final String SQL = """
      WITH input AS MATERIALIZED (
          SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
                               ?::bigint[], ?::text[], ?::bigint[], ?::boolean[]) WITH ORDINALITY
              AS i(delta_id, digest, op, scope, entity_type, entity_id, data, base_version, base_etag, clock_us,
                   eligible, ord)),
      open AS MATERIALIZED (
          SELECT i.*, i.data::jsonb AS doc FROM input i
          WHERE NOT EXISTS (SELECT 1 FROM applied_delta a WHERE a.client_id = ? AND a.delta_id = i.delta_id)),
      created AS (
          INSERT INTO entity (scope, entity_type, entity_id, data, last_modified_by, writer_client_id,
                              writer_delta_id, write_clock_us, writer_supplied)
          SELECT i.scope, i.entity_type, i.entity_id, i.doc, ?, ?, i.delta_id, i.clock_us, true
          FROM open i
          WHERE i.op = 'create'
          ORDER BY i.ord
          ON CONFLICT DO NOTHING
          RETURNING *),
      updated AS (
          UPDATE entity e
          SET data = CASE WHEN i.op = 'delete' THEN e.data ELSE deltasync_keep_exact(e.data, i.doc) END,
              is_deleted = (i.op = 'delete'),
              row_version = e.row_version + 1,
              last_modified_by = ?, writer_client_id = ?, writer_delta_id = i.delta_id, write_clock_us = i.clock_us,
              writer_supplied = true
          FROM open i
          WHERE i.op <> 'create'
            AND e.scope = i.scope AND e.entity_type = i.entity_type AND e.entity_id = i.entity_id
            AND NOT e.is_deleted
            AND (i.base_version = 0 OR e.row_version = i.base_version)
            AND (i.base_etag = '' OR e.etag = i.base_etag)
          RETURNING e.*),
      written AS MATERIALIZED (SELECT * FROM created UNION ALL SELECT * FROM updated),
      judged AS MATERIALIZED (
          SELECT w.*, (w.is_deleted OR (i.eligible AND w.data = i.doc)) AS as_sent
          FROM written w JOIN open i ON i.delta_id = w.writer_delta_id),
      claim AS (
          INSERT INTO applied_delta (client_id, delta_id, delta_digest, written_entity, written_meta)
          SELECT ?, i.delta_id, decode(i.digest, 'base64'),
                 CASE WHEN w.writer_delta_id IS NULL OR w.as_sent THEN NULL ELSE jsonb_build_object('scope', w.scope,
                     'entity_type', w.entity_type, 'entity_id', w.entity_id, 'data', w.data,
                     'row_version', w.row_version, 'etag', w.etag, 'last_modified_at', w.last_modified_at,
                     'last_modified_by', w.last_modified_by, 'sync_status', w.sync_status,
                     'conflict_data', w.conflict_data, 'is_deleted', w.is_deleted, 'created_at', w.created_at) END,
                 CASE WHEN w.as_sent THEN jsonb_build_object('scope', w.scope,
                     'entity_type', w.entity_type, 'entity_id', w.entity_id,
                     'row_version', w.row_version, 'etag', w.etag, 'last_modified_at', w.last_modified_at,
                     'last_modified_by', w.last_modified_by, 'sync_status', w.sync_status,
                     'conflict_data', w.conflict_data, 'is_deleted', w.is_deleted, 'created_at', w.created_at) END
          FROM open i LEFT JOIN judged w ON w.writer_delta_id = i.delta_id
          ORDER BY i.ord
          ON CONFLICT DO NOTHING
          RETURNING delta_id)
      SELECT i.delta_id AS input_delta_id, c.delta_id IS NOT NULL AS claimed, w.scope, w.entity_type, w.entity_id,
             CASE WHEN w.as_sent THEN NULL ELSE w.data END AS data, w.row_version, w.etag, w.last_modified_at,
             w.last_modified_by, w.sync_status, w.conflict_data, w.is_deleted, w.created_at
      FROM open i
      LEFT JOIN claim c ON c.delta_id = i.delta_id
      LEFT JOIN judged w ON w.writer_delta_id = i.delta_id""";

  private PlainWrites() {}

  static Map<String, WriteTransaction.PlainOutcome> apply(DSLContext tx, String clientId,
      List<WriteTransaction.PlainWrite> writes) {
    int n = writes.size();
    String[] deltaIds = new String[n];
    String[] digests = new String[n];
    String[] ops = new String[n];
    String[] scopes = new String[n];
    String[] types = new String[n];
    String[] ids = new String[n];
    String[] data = new String[n];
    Long[] baseVersions = new Long[n];
    String[] baseEtags = new String[n];
    Long[] clocks = new Long[n];
    Boolean[] eligible = new Boolean[n];
    Map<String, Struct> documents = new HashMap<>(n * 2);
    Base64.Encoder base64 = Base64.getEncoder();
    for (int i = 0; i < n; i++) {
      WriteTransaction.PlainWrite write = writes.get(i);
      documents.put(write.deltaId(), write.document());
      deltaIds[i] = write.deltaId();
      // base64 text, because a bytea[] bind is not something every driver and jOOQ version agree on
      digests[i] = base64.encodeToString(write.digest());
      ops[i] = switch (write.kind()) {
        case CREATE -> "create";
        case UPDATE -> "update";
        case DELETE -> "delete";
      };
      scopes[i] = write.key().scope();
      types[i] = write.key().entityType();
      ids[i] = write.key().entityId();
      data[i] = write.dataJson();
      baseVersions[i] = write.base().rowVersion();
      baseEtags[i] = write.base().etag();
      clocks[i] = write.writeClockMicros();
      eligible[i] = Json.asStoredApplies(write.document());
    }
    // Through the driver, not jOOQ: the text is fixed, so nothing needs rendering, and the written rows are read
    // straight into entities (a profile put jOOQ's plain-SQL parsing and record mapping at a third of a batch's
    // server-side samples; docs/performance.md).
    return tx.connectionResult(connection -> {
      try (PreparedStatement statement = connection.prepareStatement(SQL)) {
        int p = 0;
        statement.setArray(++p, connection.createArrayOf("text", deltaIds));
        statement.setArray(++p, connection.createArrayOf("text", digests));
        statement.setArray(++p, connection.createArrayOf("text", ops));
        statement.setArray(++p, connection.createArrayOf("text", scopes));
        statement.setArray(++p, connection.createArrayOf("text", types));
        statement.setArray(++p, connection.createArrayOf("text", ids));
        statement.setArray(++p, connection.createArrayOf("text", data));
        statement.setArray(++p, connection.createArrayOf("bigint", baseVersions));
        statement.setArray(++p, connection.createArrayOf("text", baseEtags));
        statement.setArray(++p, connection.createArrayOf("bigint", clocks));
        statement.setArray(++p, connection.createArrayOf("boolean", eligible));
        for (int i = 0; i < 6; i++) {
          statement.setString(++p, clientId);
        }
        Map<String, WriteTransaction.PlainOutcome> outcomes = new HashMap<>();
        try (ResultSet row = statement.executeQuery()) {
          while (row.next()) {
            String deltaId = row.getString("input_delta_id");
            boolean claimed = row.getBoolean("claimed");
            row.getLong("row_version");
            boolean written = !row.wasNull();
            if (claimed) {
              outcomes.put(deltaId, written
                  ? new WriteTransaction.PlainWritten(Rows.written(row, documents.get(deltaId)))
                  : new WriteTransaction.PlainMissed());
            } else if (written) {
              // Written, but a concurrent transaction claimed the delta first: this write must not commit.
              throw new DataAccessException("delta " + deltaId + " was claimed by a concurrent transaction after "
                  + "this one wrote; rolled back", new SQLException("written but not claimed", "40001"));
            }
          }
        }
        return outcomes;
      } catch (SQLException e) {
        // As jOOQ would: callers classify by SQLSTATE (DataAccessException#sqlState reads the cause's).
        throw new DataAccessException("SQL [" + SQL + "]; " + e.getMessage(), e);
      }
    });
  }
}

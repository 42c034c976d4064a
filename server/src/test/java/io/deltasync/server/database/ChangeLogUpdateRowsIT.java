package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The change-log trigger of updates (V25) logs a statement of at most 8 rows and a larger one through two different
 * statements, the second with nested loops off for its duration. Whatever the size, every updated row that made a
 * version is logged exactly once with the row's values (operation, version, etag, document, writer, edits), a
 * bookkeeping update and an update of no row log nothing, on a fresh database and on one upgraded from V24, and the
 * caller's enable_nestloop is the same after the statement as before it, also when the statement fails.
 */
class ChangeLogUpdateRowsIT {
  /** Both sides of the boundary (8 rows), none, and a large statement; 1 again once both plans are cached. */
  private static final int[] SIZES = {1, 0, 8, 9, 300, 1, 8};

  @Test
  void everyUpdatedRowIsLoggedOnceWithItsValuesWhateverTheStatementsSize() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (Connection connection = db.dataSource().getConnection()) {
      checkEveryWriter(connection, "fresh");
    }
  }

  @Test
  void aDatabaseUpgradedFromV24LogsTheSameAndKeepsNoFunctionSetting() throws Exception {
    PGSimpleDataSource upgraded = emptyDatabase();
    Flyway.configure().dataSource(upgraded).locations("classpath:db/migration").target("24").load().migrate();
    try (Connection connection = upgraded.getConnection(); Statement sql = connection.createStatement()) {
      assertThat(functionSettings(sql)).as("V24's setting").isEqualTo("{enable_nestloop=off}");
      // Rows written and updated under V24, one and many at a time, before the upgrade.
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'old', 'note', 'e' || i, "
          + "jsonb_build_object('n', i) FROM generate_series(1, 20) i");
      sql.execute("UPDATE entity SET data = '{\"n\": 0}' WHERE scope = 'old' AND entity_id = 'e1'");
      sql.execute("UPDATE entity SET data = data || '{\"m\": 1}' WHERE scope = 'old'");
    }
    Database.migrate(upgraded);
    try (Connection connection = upgraded.getConnection(); Statement sql = connection.createStatement()) {
      assertThat(functionSettings(sql)).as("V25 replaced the function without V24's SET clause").isNull();
      assertThat(count(sql, "SELECT count(*) FROM change_log WHERE scope = 'old'")).isEqualTo(20 + 1 + 20);
      assertThat(count(sql, "SELECT count(*) FROM entity WHERE scope = 'old' AND row_version = 3 "
          + "AND entity_id = 'e1'")).isEqualTo(1);
      checkEveryWriter(connection, "upgraded");
      // The rows written before the upgrade are updated after it like any other.
      assertThat(sql.executeUpdate("UPDATE entity SET data = data || '{\"u\": 1}' WHERE scope = 'old'"))
          .isEqualTo(20);
      assertThat(count(sql, "SELECT count(*) FROM change_log c JOIN entity e USING (scope, entity_type, entity_id) "
          + "WHERE scope = 'old' AND c.row_version = e.row_version AND c.data = e.data")).isEqualTo(20);
    }
  }

  /**
   * V25 redefines the function, and CREATE OR REPLACE drops every setting of the old definition, not only V24's: a
   * deployment's hardening (search_path with pg_temp last) must survive the upgrade, or a session's temporary
   * change_log captures the log of committed plain-SQL updates (from the review of V25; failed before it kept them).
   */
  @Test
  void aDeploymentsOwnSettingOfTheLogFunctionSurvivesTheUpgrade() throws Exception {
    PGSimpleDataSource upgraded = emptyDatabase();
    Flyway.configure().dataSource(upgraded).locations("classpath:db/migration").target("24").load().migrate();
    try (Connection connection = upgraded.getConnection(); Statement sql = connection.createStatement()) {
      sql.execute("ALTER FUNCTION deltasync_entity_log_writes() SET search_path = public, pg_temp");
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'hard', 'note', 'e' || i, "
          + "'{}'::jsonb FROM generate_series(1, 3) i");
    }
    Database.migrate(upgraded);
    try (Connection connection = upgraded.getConnection(); Statement sql = connection.createStatement()) {
      assertThat(functionSettings(sql)).as("the deployment's setting kept, V24's dropped")
          .contains("search_path=public, pg_temp").doesNotContain("enable_nestloop");
      long before = count(sql, "SELECT count(*) FROM public.change_log WHERE scope = 'hard'");
      sql.execute("CREATE TEMP TABLE change_log (LIKE public.change_log INCLUDING ALL)");
      assertThat(sql.executeUpdate("UPDATE entity SET data = '{\"x\": 1}' WHERE scope = 'hard' AND entity_id = 'e1'"))
          .isEqualTo(1);
      assertThat(sql.executeUpdate("UPDATE entity SET data = '{\"y\": 1}' WHERE scope = 'hard'")).isEqualTo(3);
      assertThat(count(sql, "SELECT count(*) FROM pg_temp.change_log")).as("captured by the temporary table")
          .isZero();
      assertThat(count(sql, "SELECT count(*) FROM public.change_log WHERE scope = 'hard'") - before)
          .as("updates in the real change log").isEqualTo(4);
      assertThat(count(sql, "SELECT count(*) FROM pg_settings WHERE name = 'search_path' "
          + "AND setting = '\"$user\", public'")).as("the migration's session setting put back").isEqualTo(1);
    }
  }

  @Test
  void theCallersEnableNestloopIsUnchangedAfterALargeUpdate() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (Connection connection = db.dataSource().getConnection(); Statement sql = connection.createStatement()) {
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'leak', 'note', 'e' || i, "
          + "'{}'::jsonb FROM generate_series(1, 50) i");
      String large = "UPDATE entity SET data = data || '{\"m\": 1}' WHERE scope = 'leak'";

      // Autocommit: the statement's own transaction.
      assertThat(sql.executeUpdate(large)).isEqualTo(50);
      assertThat(show(sql)).isEqualTo("on");

      // Within the caller's transaction, and after it commits.
      connection.setAutoCommit(false);
      sql.executeUpdate(large);
      assertThat(show(sql)).as("in the caller's transaction").isEqualTo("on");
      connection.commit();
      assertThat(show(sql)).isEqualTo("on");

      // A caller that turned it off for its session keeps it off; one that set it for its transaction keeps that.
      sql.execute("SET enable_nestloop = off");
      sql.executeUpdate(large);
      assertThat(show(sql)).isEqualTo("off");
      connection.commit();
      assertThat(show(sql)).as("the session's own value").isEqualTo("off");
      sql.execute("RESET enable_nestloop");
      connection.commit();
      sql.execute("SET LOCAL enable_nestloop = off");
      sql.executeUpdate(large);
      assertThat(show(sql)).isEqualTo("off");
      connection.commit();
      assertThat(show(sql)).as("SET LOCAL ends with the caller's transaction").isEqualTo("on");

      // A session SET after the trigger ran, in the same transaction, outlives the transaction as usual.
      sql.executeUpdate(large);
      sql.execute("SET enable_nestloop = off");
      connection.commit();
      assertThat(show(sql)).isEqualTo("off");
      sql.execute("RESET enable_nestloop");
      connection.commit();

      // The logging statement fails after the function turned nested loops off (a constraint on change_log that
      // this update breaks): rolling back to the caller's savepoint restores the caller's value.
      sql.execute("ALTER TABLE change_log ADD CONSTRAINT test_refuses_boom CHECK (data->>'boom' IS NULL) NOT VALID");
      connection.commit();
      var savepoint = connection.setSavepoint();
      assertThatThrownBy(() -> sql.executeUpdate("UPDATE entity SET data = data || '{\"boom\": 1}' "
          + "WHERE scope = 'leak'")).isInstanceOf(SQLException.class).hasMessageContaining("test_refuses_boom");
      connection.rollback(savepoint);
      assertThat(show(sql)).as("after the failed statement's savepoint rolled back").isEqualTo("on");
      sql.executeUpdate(large);
      connection.commit();
      assertThat(show(sql)).isEqualTo("on");
      assertThatThrownBy(() -> sql.executeUpdate("UPDATE entity SET data = data || '{\"boom\": 1}' "
          + "WHERE scope = 'leak'")).isInstanceOf(SQLException.class);
      connection.rollback();
      assertThat(show(sql)).as("after the failed transaction").isEqualTo("on");
      connection.setAutoCommit(true);
      assertThat(count(sql, "SELECT count(*) FROM change_log WHERE scope = 'leak' "
          + "AND data->>'boom' IS NOT NULL")).isZero();
    }
  }

  /**
   * Plain SQL of every shape the two statements must log the same way, each at every size of {@link #SIZES}, on one
   * session (so the second use of a size runs the cached plans): a multi-row UPDATE ... FROM (VALUES ...), deletes
   * and the return from a tombstone, a bookkeeping update (no version: nothing logged), rows that supply their
   * writer (the server's set-based and single-delta statements) with one delta's edits, and an update of no row.
   */
  private static void checkEveryWriter(Connection connection, String prefix) throws SQLException {
    try (Statement sql = connection.createStatement()) {
      for (int round = 0; round < SIZES.length; round++) {
        int n = SIZES[round];
        String scope = prefix + "-" + round + "-" + n;
        sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT '" + scope + "', 'note', "
            + "'e' || i, jsonb_build_object('n', i) FROM generate_series(1, " + (n + 2) + ") i");
        List<String> ids = new ArrayList<>();
        StringJoiner values = new StringJoiner(", ");
        for (int i = 1; i <= n; i++) {
          ids.add("e" + i);
          values.add("('e" + i + "', '{\"v\": " + i + ", \"r\": " + round + "}')");
        }

        // UPDATE ... FROM (VALUES ...): plain SQL, no writer.
        long before = lastChange(sql);
        int updated = n == 0 ? sql.executeUpdate("UPDATE entity SET data = '{}' WHERE scope = '" + scope + "' "
            + "AND false") : sql.executeUpdate("UPDATE entity e SET data = v.data::jsonb FROM (VALUES " + values
            + ") AS v(id, data) WHERE e.scope = '" + scope + "' AND e.entity_id = v.id");
        assertThat(updated).isEqualTo(n);
        assertLogged(sql, scope, ids, before, "update");

        // Deletes, then back from the tombstones.
        before = lastChange(sql);
        assertThat(sql.executeUpdate("UPDATE entity SET is_deleted = true WHERE scope = '" + scope + "' AND "
            + "entity_id = ANY ('" + array(ids) + "')")).isEqualTo(n);
        assertLogged(sql, scope, ids, before, "delete");
        before = lastChange(sql);
        assertThat(sql.executeUpdate("UPDATE entity SET is_deleted = false, data = data || '{\"back\": true}' "
            + "WHERE scope = '" + scope + "' AND entity_id = ANY ('" + array(ids) + "')")).isEqualTo(n);
        assertLogged(sql, scope, ids, before, "create");

        // Bookkeeping: no version, nothing logged.
        before = lastChange(sql);
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        sql.execute("SET LOCAL deltasync.bookkeeping = 'on'");
        assertThat(sql.executeUpdate("UPDATE entity SET sync_status = 'conflict' WHERE scope = '" + scope + "' "
            + "AND entity_id = ANY ('" + array(ids) + "')")).isEqualTo(n);
        connection.commit();
        connection.setAutoCommit(autoCommit);
        assertThat(lastChange(sql)).as("bookkeeping logs nothing (%d rows)", n).isEqualTo(before);

        // Rows that supply their writer, as the server's statements do; the settings name one delta with edits.
        before = lastChange(sql);
        connection.setAutoCommit(false);
        sql.execute("SET LOCAL deltasync.client_id = 'phone'");
        sql.execute("SET LOCAL deltasync.delta_id = 'd1'");
        sql.execute("SET LOCAL deltasync.edits = '[{\"p\": [\"v\"], \"op\": \"set\"}]'");
        assertThat(sql.executeUpdate("UPDATE entity SET data = data || '{\"w\": 1}', writer_client_id = 'phone', "
            + "writer_delta_id = 'd' || substr(entity_id, 2), write_clock_us = 1000000, writer_supplied = true "
            + "WHERE scope = '" + scope + "' AND entity_id = ANY ('" + array(ids) + "')")).isEqualTo(n);
        connection.commit();
        connection.setAutoCommit(autoCommit);
        assertLogged(sql, scope, ids, before, "update");
        try (PreparedStatement writers = connection.prepareStatement("SELECT entity_id, client_id, delta_id, "
            + "last_modified_by, edits IS NOT NULL AS has_edits FROM change_log WHERE scope = ? AND change_id > ?")) {
          writers.setString(1, scope);
          writers.setLong(2, before);
          try (ResultSet rows = writers.executeQuery()) {
            while (rows.next()) {
              String id = rows.getString("entity_id");
              assertThat(rows.getString("client_id")).isEqualTo("phone");
              assertThat(rows.getString("last_modified_by")).isEqualTo("phone");
              assertThat(rows.getString("delta_id")).isEqualTo("d" + id.substring(1));
              assertThat(rows.getBoolean("has_edits")).as("edits belong to d1 only: %s", id)
                  .isEqualTo(id.equals("e1"));
            }
          }
        }
        assertThat(count(sql, "SELECT count(*) FROM change_log WHERE scope = '" + scope + "' AND entity_id IN "
            + "('e" + (n + 1) + "', 'e" + (n + 2) + "')")).as("untouched rows: their creates only").isEqualTo(2);
      }
    }
  }

  /**
   * Exactly one change-log row after {@code before} per updated row, equal to the row as it is now, with the
   * operation expected; nothing for any other row.
   */
  private static void assertLogged(Statement sql, String scope, List<String> ids, long before, String operation)
      throws SQLException {
    List<String> expected = new ArrayList<>();
    try (ResultSet rows = sql.executeQuery("SELECT entity_id, row_version, etag, CASE WHEN is_deleted THEN NULL "
        + "ELSE data END AS data, is_deleted, last_modified_at, last_modified_by, writer_client_id, writer_delta_id "
        + "FROM entity WHERE scope = '" + scope + "' AND entity_id = ANY ('" + array(ids) + "') ORDER BY entity_id")) {
      while (rows.next()) {
        expected.add(line(rows, rows.getString("writer_client_id"), rows.getString("writer_delta_id"), operation));
      }
    }
    List<String> logged = new ArrayList<>();
    try (ResultSet rows = sql.executeQuery("SELECT entity_id, row_version, etag, data, is_deleted, "
        + "last_modified_at, last_modified_by, client_id, delta_id, operation FROM change_log WHERE scope = '"
        + scope + "' AND change_id > " + before + " ORDER BY entity_id")) {
      while (rows.next()) {
        logged.add(line(rows, rows.getString("client_id"), rows.getString("delta_id"), rows.getString("operation")));
      }
    }
    assertThat(expected).hasSize(ids.size());
    assertThat(logged).as("%s of %d rows in %s", operation, ids.size(), scope).isEqualTo(expected);
  }

  private static String line(ResultSet row, String clientId, String deltaId, String operation) throws SQLException {
    return String.join(" | ", row.getString("entity_id"), row.getString("row_version"), row.getString("etag"),
        String.valueOf(row.getString("data")), row.getString("is_deleted"), row.getString("last_modified_at"),
        row.getString("last_modified_by"), String.valueOf(clientId), String.valueOf(deltaId), operation);
  }

  private static String array(List<String> ids) {
    return "{" + String.join(",", ids) + "}";
  }

  private static long lastChange(Statement sql) throws SQLException {
    return count(sql, "SELECT coalesce(max(change_id), 0) FROM change_log");
  }

  private static long count(Statement sql, String query) throws SQLException {
    try (ResultSet row = sql.executeQuery(query)) {
      row.next();
      return row.getLong(1);
    }
  }

  private static String show(Statement sql) throws SQLException {
    try (ResultSet row = sql.executeQuery("SHOW enable_nestloop")) {
      row.next();
      return row.getString(1);
    }
  }

  private static String functionSettings(Statement sql) throws SQLException {
    try (ResultSet row = sql.executeQuery("SELECT proconfig::text FROM pg_proc "
        + "WHERE proname = 'deltasync_entity_log_writes'")) {
      row.next();
      String value = row.getString(1);
      return value == null ? null : value.replace("\"", "");
    }
  }

  /** An empty database (no migration) in the tests' cluster. */
  private static PGSimpleDataSource emptyDatabase() throws SQLException {
    TestPostgres.TestDatabase any = TestPostgres.newDatabase();
    String name = any.name() + "_from_v24";
    try (Connection connection = any.dataSource().getConnection(); Statement sql = connection.createStatement()) {
      sql.execute("CREATE DATABASE " + name + " TEMPLATE template0");
    }
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    dataSource.setUrl(any.url().replace("/" + any.name() + "?", "/" + name + "?"));
    dataSource.setUser(any.user());
    dataSource.setPassword(any.password());
    return dataSource;
  }
}

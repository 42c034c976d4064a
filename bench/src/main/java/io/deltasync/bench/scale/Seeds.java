package io.deltasync.bench.scale;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The benchmark's direct database work: seeding scopes with plain SQL (through the same triggers that log every
 * write), and the plain JDBC reads that are the baselines of catch-up and initial sync.
 */
record Seeds(String url, String user, String password) {
  Connection connect() throws SQLException {
    return DriverManager.getConnection(url, user, password);
  }

  /** {@code rows} live entities in {@code scope}, ids zero-padded in key order, small documents. */
  void entities(String scope, int rows) throws SQLException {
    try (Connection c = connect();
        PreparedStatement insert = c.prepareStatement("""
            INSERT INTO entity (scope, entity_type, entity_id, data)
            SELECT ?, 'note', lpad(g::text, 9, '0'), jsonb_build_object('title', 'note ' || g,
                'body', 'a small benchmark document', 'n', g, 'done', false)
            FROM generate_series(?::int, ?::int) g""")) {
      int chunk = 50_000;
      for (int from = 0; from < rows; from += chunk) {
        insert.setString(1, scope);
        insert.setInt(2, from);
        insert.setInt(3, Math.min(rows, from + chunk) - 1);
        insert.executeUpdate();
      }
      // What autovacuum does a while after a bulk load. Right after one, the statistics still describe the small
      // table: the planner then reads each page with a bitmap scan of every remaining row of the scope and a top-N
      // sort instead of the primary key's ordered index scan, and paging a large scope turns quadratic (measured in
      // docs/performance.md, "At scale"). The benchmark measures the settled state.
      try (Statement analyze = c.createStatement()) {
        analyze.execute("ANALYZE entity");
        analyze.execute("ANALYZE change_log");
      }
    }
  }

  /** Reads the change-log rows of {@code scope} in commit order, every column; rows read. */
  long readChangeLog(String scope) throws SQLException {
    return readAll("SELECT * FROM change_log WHERE scope = ? ORDER BY tx_id, change_id", scope);
  }

  /** Reads the live entities of {@code scope} in key order, every column; rows read. */
  long readEntities(String scope) throws SQLException {
    return readAll("SELECT * FROM entity WHERE scope = ? AND NOT is_deleted ORDER BY scope, entity_type, entity_id",
        scope);
  }

  private long readAll(String sql, String scope) throws SQLException {
    try (Connection c = connect()) {
      c.setAutoCommit(false);  // PgJDBC streams with a fetch size only inside a transaction
      try (PreparedStatement select = c.prepareStatement(sql)) {
        select.setFetchSize(1_000);
        select.setString(1, scope);
        long rows = 0;
        long chars = 0;
        try (ResultSet rs = select.executeQuery()) {
          int columns = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            for (int i = 1; i <= columns; i++) {
              String value = rs.getString(i);
              chars += value == null ? 0 : value.length();
            }
            rows++;
          }
        }
        c.commit();
        return chars >= 0 ? rows : -1;
      }
    }
  }

  String postgresVersion() throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SHOW server_version")) {
      rs.next();
      return rs.getString(1);
    }
  }
}

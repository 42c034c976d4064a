package io.deltasync.server.database;

import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jooq.ConnectionProvider;
import org.jooq.exception.DataAccessException;
import org.jooq.tools.jdbc.DefaultConnection;

/**
 * jOOQ's connections from a pool whose connections are all READ COMMITTED (the pool sets it on every connection):
 * as jOOQ's {@code DataSourceConnectionProvider}, except that a connection answers {@code getTransactionIsolation}
 * itself. jOOQ's transaction provider asks for the isolation at the start of every transaction, and PgJDBC answers
 * that with a round trip ({@code SHOW TRANSACTION ISOLATION LEVEL}): one more round trip per transaction than the
 * work needs, a third of a single-delta push's (docs/performance.md, "No second write").
 */
final class ReadCommittedConnections implements ConnectionProvider {
  private final DataSource pool;

  ReadCommittedConnections(DataSource pool) {
    this.pool = pool;
  }

  @Override
  public Connection acquire() {
    try {
      return new DefaultConnection(pool.getConnection()) {
        @Override
        public int getTransactionIsolation() {
          return Connection.TRANSACTION_READ_COMMITTED;
        }
      };
    } catch (SQLException e) {
      throw new DataAccessException("Error getting connection from data source " + pool, e);
    }
  }

  @Override
  public void release(Connection connection) {
    try {
      connection.close();
    } catch (SQLException e) {
      throw new DataAccessException("Error closing connection " + connection, e);
    }
  }
}

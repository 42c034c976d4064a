package io.deltasync.server.warmup;

import java.io.PrintWriter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * Connections of the pool on which nothing ever commits: each runs in one transaction the caller cannot end with a
 * commit ({@code commit()} rolls back, {@code setAutoCommit(true)} is only remembered), rolled back when it is
 * closed. Code that writes through it runs its real statements, triggers included, and leaves no trace.
 */
final class RollbackOnlyDataSource implements DataSource {
  private final DataSource pool;

  RollbackOnlyDataSource(DataSource pool) {
    this.pool = pool;
  }

  @Override
  public Connection getConnection() throws SQLException {
    return wrap(pool.getConnection());
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    return wrap(pool.getConnection(username, password));
  }

  private static Connection wrap(Connection connection) throws SQLException {
    boolean original = connection.getAutoCommit();
    connection.setAutoCommit(false);
    InvocationHandler handler = new InvocationHandler() {
      private boolean autoCommit = original;

      @Override
      public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        try {
          switch (method.getName()) {
            case "commit" -> {
              connection.rollback();
              return null;
            }
            case "setAutoCommit" -> {
              if ((Boolean) args[0] && !autoCommit) {
                connection.rollback();  // what setAutoCommit(true) would have committed
              }
              autoCommit = (Boolean) args[0];
              return null;
            }
            case "getAutoCommit" -> {
              return autoCommit;
            }
            case "close" -> {
              try {
                if (!connection.isClosed()) {
                  connection.rollback();
                  connection.setAutoCommit(original);
                }
              } finally {
                connection.close();
              }
              return null;
            }
            case "isWrapperFor" -> {
              return false;
            }
            case "unwrap" -> {
              // Never hand out the real connection: it could commit.
              throw new SQLFeatureNotSupportedException("unwrap of a rollback-only connection");
            }
            default -> {
              return method.invoke(connection, args);
            }
          }
        } catch (InvocationTargetException e) {
          throw e.getCause();
        }
      }
    };
    return (Connection) Proxy.newProxyInstance(RollbackOnlyDataSource.class.getClassLoader(),
        new Class<?>[] {Connection.class}, handler);
  }

  @Override
  public PrintWriter getLogWriter() throws SQLException {
    return pool.getLogWriter();
  }

  @Override
  public void setLogWriter(PrintWriter out) throws SQLException {
    pool.setLogWriter(out);
  }

  @Override
  public void setLoginTimeout(int seconds) throws SQLException {
    pool.setLoginTimeout(seconds);
  }

  @Override
  public int getLoginTimeout() throws SQLException {
    return pool.getLoginTimeout();
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    return pool.getParentLogger();
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    throw new SQLFeatureNotSupportedException("unwrap of a rollback-only data source");
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return false;
  }
}

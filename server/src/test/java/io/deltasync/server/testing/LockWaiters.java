package io.deltasync.server.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/** Waits until sessions of the current database are blocked on a lock (a test's way to order two writers). */
public final class LockWaiters {
  private LockWaiters() {
  }

  /**
   * Returns once at least {@code waiters} sessions wait on a lock, with {@code queryLike} (a LIKE pattern, or null for
   * any) in their statement; fails after 10 s. Polls on its own connection in autocommit: within one transaction
   * {@code pg_stat_activity} answers from a snapshot.
   */
  public static void await(DataSource dataSource, int waiters, String queryLike)
      throws SQLException, InterruptedException {
    try (Connection connection = dataSource.getConnection();
        PreparedStatement waiting = connection.prepareStatement("select count(*) from pg_stat_activity "
            + "where datname = current_database() and wait_event_type = 'Lock' and query like ?")) {
      waiting.setString(1, queryLike == null ? "%" : queryLike);
      for (int i = 0; i < 2000; i++) {
        try (ResultSet row = waiting.executeQuery()) {
          row.next();
          if (row.getLong(1) >= waiters) {
            return;
          }
        }
        Thread.sleep(5);
      }
      throw new AssertionError("fewer than " + waiters + " sessions ever waited on a lock");
    }
  }
}

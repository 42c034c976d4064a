package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/**
 * The server's transactions are READ COMMITTED whatever the database's default, and its connections say so without
 * asking the database (jOOQ asks at the start of every transaction; PgJDBC answers with a round trip, a
 * {@code SHOW TRANSACTION ISOLATION LEVEL}).
 */
class ReadCommittedIT {
  @Test
  void transactionsAreReadCommittedEvenWhereTheDatabaseDefaultsToSerializable() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (Connection admin = db.dataSource().getConnection(); Statement statement = admin.createStatement()) {
      statement.execute("ALTER DATABASE " + db.name() + " SET default_transaction_isolation = 'serializable'");
    }
    ServerConfig config = TestServerConfig.from(Map.of()).withDatabase(db.url(), db.user(), db.password());
    try (Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout()))) {
      try (Connection plain = db.dataSource().getConnection(); Statement statement = plain.createStatement();
          var rows = statement.executeQuery("SHOW transaction_isolation")) {
        rows.next();
        assertThat(rows.getString(1)).as("the database's own default").isEqualTo("serializable");
      }
      String[] seen = new String[1];
      int[] said = new int[1];
      database.dsl().transaction(cfg -> {
        said[0] = DSL.using(cfg).configuration().connectionProvider().acquire().getTransactionIsolation();
        seen[0] = String.valueOf(DSL.using(cfg).fetchValue("SHOW transaction_isolation"));
      });
      assertThat(said[0]).as("what the connection says").isEqualTo(Connection.TRANSACTION_READ_COMMITTED);
      // Answered without a round trip: even a transaction the database has aborted (where any query fails) gets it.
      database.dsl().transaction(cfg -> {
        Connection connection = DSL.using(cfg).configuration().connectionProvider().acquire();
        try (Statement failing = connection.createStatement()) {
          failing.execute("SELECT 1 / 0");
        } catch (java.sql.SQLException expected) {
          // the transaction is aborted now
        }
        said[0] = connection.getTransactionIsolation();
        connection.rollback();
      });
      assertThat(said[0]).isEqualTo(Connection.TRANSACTION_READ_COMMITTED);
      assertThat(seen[0]).as("what the transaction is").isEqualTo("read committed");
    }
  }
}

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
 * HikariCP sets the configured isolation only when it differs from the default it saw on its first connection.
 * A database default changed after start-up (ALTER DATABASE/ROLE ... SET default_transaction_isolation) reaches
 * every connection opened later, while ReadCommittedConnections keeps answering READ COMMITTED: the pool sets the
 * session's isolation on every new connection (connectionInitSql).
 */
class IsolationPinIT {
  @Test
  void transactionsStayReadCommittedWhenTheDefaultChangesAfterStartUp() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of()).withDatabase(db.url(), db.user(), db.password());
    try (Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout()))) {
      database.dsl().transaction(cfg -> DSL.using(cfg).fetchValue("SELECT 1"));
      try (Connection admin = db.dataSource().getConnection(); Statement statement = admin.createStatement()) {
        statement.execute("ALTER DATABASE " + db.name() + " SET default_transaction_isolation = 'serializable'");
      }
      ((com.zaxxer.hikari.HikariDataSource) database.dataSource()).getHikariPoolMXBean().softEvictConnections();
      String[] seen = new String[1];
      database.dsl().transaction(cfg -> seen[0] = String.valueOf(DSL.using(cfg).fetchValue(
          "SHOW transaction_isolation")));
      assertThat(seen[0]).as("what the transaction is").isEqualTo("read committed");
    }
  }
}

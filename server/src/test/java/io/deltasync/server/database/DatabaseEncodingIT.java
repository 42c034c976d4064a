package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A database whose encoding is not UTF8 is refused at start-up, before anything is migrated into it. */
class DatabaseEncodingIT {
  @Test
  void aLatin1DatabaseIsRefusedWithAClearErrorAndLeftUntouched() throws Exception {
    TestPostgres.TestDatabase any = TestPostgres.newDatabase();
    String name = "latin1_" + System.nanoTime();
    try (Connection admin = any.dataSource().getConnection(); Statement statement = admin.createStatement()) {
      statement.execute("CREATE DATABASE " + name + " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
    }
    String url = any.url().replace("/" + any.name(), "/" + name);
    ServerConfig config = TestServerConfig.from(Map.of()).withDatabase(url, any.user(), any.password());
    assertThatThrownBy(() -> Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout())).close())
        .hasMessageContaining("encoding is LATIN1").hasMessageContaining("UTF8");
    TestPostgres.TestDatabase latin1 = new TestPostgres.TestDatabase(url, any.user(), any.password(), name);
    try (Connection connection = latin1.dataSource().getConnection(); Statement statement = connection.createStatement();
        var rows = statement.executeQuery("select count(*) from pg_tables where tablename = 'entity'")) {
      rows.next();
      assertThat(rows.getLong(1)).as("tables migrated into the refused database").isZero();
    }
  }

  @Test
  void aUtf8DatabaseOpens() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of()).withDatabase(db.url(), db.user(), db.password());
    try (Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout()))) {
      assertThat(database.dsl().fetchValue("SHOW server_encoding")).isEqualTo("UTF8");
    }
  }
}

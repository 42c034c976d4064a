package io.deltasync.server.testing;

import io.deltasync.server.database.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * One embedded PostgreSQL per test JVM, with a template database migrated once; each test class gets its own
 * database copied from the template (fast), so classes never see each other's rows. A fresh cluster per test
 * would cost about a second each on two cores.
 */
public final class TestPostgres {
  private static final String TEMPLATE = "deltasync_template";
  private static final AtomicInteger DATABASES = new AtomicInteger();
  private static EmbeddedPostgres postgres;

  private TestPostgres() {}

  /**
   * Connection details of one test database.
   *
   * @param url its JDBC URL
   * @param user the user
   * @param password the password
   * @param name the database's name
   */
  public record TestDatabase(String url, String user, String password, String name) {
    /** A plain (unpooled) data source for the test's own SQL. */
    public PGSimpleDataSource dataSource() {
      PGSimpleDataSource dataSource = new PGSimpleDataSource();
      dataSource.setUrl(url);
      dataSource.setUser(user);
      dataSource.setPassword(password);
      return dataSource;
    }
  }

  /** Creates a new, migrated database. */
  public static synchronized TestDatabase newDatabase() {
    EmbeddedPostgres pg = cluster();
    String name = "test_" + DATABASES.incrementAndGet();
    execute(pg, "CREATE DATABASE " + name + " TEMPLATE " + TEMPLATE);
    return new TestDatabase(pg.getJdbcUrl("postgres", name), "postgres", "postgres", name);
  }

  private static EmbeddedPostgres cluster() {
    if (postgres == null) {
      try {
        postgres = EmbeddedPostgres.builder()
            .setServerConfig("max_connections", "300")
            .start();
      } catch (IOException e) {
        throw new UncheckedIOException("starting the embedded PostgreSQL for tests", e);
      }
      execute(postgres, "CREATE DATABASE " + TEMPLATE);
      PGSimpleDataSource template = new PGSimpleDataSource();
      template.setUrl(postgres.getJdbcUrl("postgres", TEMPLATE));
      template.setUser("postgres");
      template.setPassword("postgres");
      Database.migrate(template);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          postgres.close();
        } catch (IOException ignored) {
          // the JVM is exiting; zonky's own hook cleans the directory
        }
      }));
    }
    return postgres;
  }

  private static void execute(EmbeddedPostgres pg, String sql) {
    try (Connection connection = pg.getPostgresDatabase().getConnection();
        Statement statement = connection.createStatement()) {
      statement.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql, e);
    }
  }
}

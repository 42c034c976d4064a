package io.deltasync.server.database;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The database the server runs on: the embedded PostgreSQL or an external one, migrated by Flyway, behind a
 * HikariCP pool, with the one shared jOOQ {@link DSLContext}.
 */
public final class Database implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Database.class);

  /**
   * Where to connect.
   *
   * @param url JDBC URL of an external PostgreSQL; empty = start the embedded one on {@code dataDirectory}
   * @param user the external database's user
   * @param password the external database's password
   * @param dataDirectory the embedded PostgreSQL's data directory
   * @param poolSize the most connections
   */
  public record Settings(Optional<String> url, String user, String password, Path dataDirectory, int poolSize) {}

  private final EmbeddedDatabase embedded;
  private final HikariDataSource pool;
  private final DSLContext dsl;

  private Database(EmbeddedDatabase embedded, HikariDataSource pool) {
    this.embedded = embedded;
    this.pool = pool;
    this.dsl = DSL.using(pool, SQLDialect.POSTGRES);
  }

  /** Starts or connects to the database, applies pending migrations, and opens the pool. */
  public static Database open(Settings settings) throws IOException {
    EmbeddedDatabase embedded = null;
    String url;
    String user;
    String password;
    if (settings.url().isPresent()) {
      url = settings.url().get();
      user = settings.user();
      password = settings.password();
      log.info("Using external PostgreSQL at {}", url);
    } else {
      embedded = EmbeddedDatabase.start(settings.dataDirectory(), 0);
      url = embedded.jdbcUrl();
      user = embedded.user();
      password = embedded.password();
      log.info("Using embedded PostgreSQL on port {} with data in {}", embedded.port(), embedded.dataDirectory());
    }
    try {
      HikariDataSource pool = pool(url, user, password, settings.poolSize());
      try {
        migrate(pool);
        return new Database(embedded, pool);
      } catch (RuntimeException e) {
        pool.close();
        throw e;
      }
    } catch (RuntimeException e) {
      if (embedded != null) {
        embedded.close();
      }
      throw e;
    }
  }

  /** Applies the migrations under {@code classpath:db/migration} (the deltasync-db module). */
  public static void migrate(DataSource dataSource) {
    Flyway flyway = Flyway.configure()
        .dataSource(dataSource)
        .locations("classpath:db/migration")
        .load();
    var result = flyway.migrate();
    var current = flyway.info().current();
    log.info("Database schema at version {} ({} migrations applied now)",
        current == null ? "none" : current.getVersion(), result.migrationsExecuted);
  }

  private static HikariDataSource pool(String url, String user, String password, int size) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("deltasync");
    config.setJdbcUrl(url);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(Math.min(2, size));
    // Fail a request fast when the database is gone, instead of holding the client for Hikari's default 30 s.
    config.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
    // A transaction left open holds back the change feed's watermark for every client (DESIGN-NOTES §1):
    // PostgreSQL ends our sessions that sit idle inside a transaction.
    config.addDataSourceProperty("options", "-c idle_in_transaction_session_timeout=60000");
    config.addDataSourceProperty("ApplicationName", "deltasync");
    return new HikariDataSource(config);
  }

  /** The shared jOOQ context (thread-safe; run transactions with {@code dsl().transactionResult(...)}). */
  public DSLContext dsl() {
    return dsl;
  }

  /**
   * A connection outside the pool, for a task that holds one for its whole life (LISTEN); the caller closes it.
   */
  public Connection openDedicatedConnection() throws SQLException {
    return DriverManager.getConnection(pool.getJdbcUrl(), pool.getUsername(), pool.getPassword());
  }

  /** The pool. */
  public DataSource dataSource() {
    return pool;
  }

  /** Whether a connection can be had and answers a query. */
  public boolean isReachable() {
    try {
      return dsl.selectOne().fetchOne() != null;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Closes the pool, then stops the embedded PostgreSQL (if it is ours). */
  @Override
  public void close() throws IOException {
    pool.close();
    if (embedded != null) {
      embedded.close();
    }
  }
}

package io.deltasync.server.database;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
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
   * @param poolSize the most connections of the request pool
   * @param statementTimeout the longest a statement may run
   */
  public record Settings(Optional<String> url, String user, String password, Path dataDirectory, int poolSize,
      Duration statementTimeout) {}

  // How long a request waits for a pooled connection before it is told the server is busy (admission control):
  // long enough to ride out a burst, short enough that a client retries elsewhere instead of hanging.
  private static final Duration ACQUIRE_TIMEOUT = Duration.ofSeconds(5);
  // How much longer than statement_timeout a read may wait for the network before the connection counts as broken.
  private static final Duration SOCKET_TIMEOUT_MARGIN = Duration.ofSeconds(15);
  private static final Duration HEALTH_SOCKET_TIMEOUT = Duration.ofSeconds(10);
  // Opening a connection (TCP, TLS, authentication) through a network that holds packets.
  private static final Duration LOGIN_TIMEOUT = Duration.ofSeconds(10);

  private final EmbeddedDatabase embedded;
  private final HikariDataSource pool;
  private final HikariDataSource feedPool;
  private final HikariDataSource healthPool;
  private final DSLContext dsl;
  private final DSLContext feedDsl;
  private final DSLContext healthDsl;

  private Database(EmbeddedDatabase embedded, HikariDataSource pool, HikariDataSource feedPool,
      HikariDataSource healthPool) {
    this.embedded = embedded;
    this.pool = pool;
    this.feedPool = feedPool;
    this.healthPool = healthPool;
    this.dsl = DSL.using(new ReadCommittedConnections(pool), SQLDialect.POSTGRES);
    this.feedDsl = DSL.using(feedPool, SQLDialect.POSTGRES);
    this.healthDsl = DSL.using(healthPool, SQLDialect.POSTGRES);
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
      // Requests share one pool; the live reader and the health check have their own connections, so that a
      // saturated request pool neither stalls delivery to every client nor reads as an outage.
      HikariDataSource pool = pool("deltasync", url, user, password, settings.poolSize(), settings.statementTimeout(),
          settings.statementTimeout().plus(SOCKET_TIMEOUT_MARGIN));
      HikariDataSource feedPool = null;
      HikariDataSource healthPool = null;
      try {
        requireUtf8(pool);
        // Not on the pool: its statement_timeout would cancel a long migration (an index on a big change log) and
        // leave the server unable to start, every attempt failing the same way.
        migrate(Flyway.configure().dataSource(url, user, password));
        feedPool = pool("deltasync-feed", url, user, password, 1, settings.statementTimeout(),
            settings.statementTimeout().plus(SOCKET_TIMEOUT_MARGIN));
        // The health check's one query is trivial: a network that holds it longer than this is a network that is
        // down for the server, and health must say so (a stalled read would otherwise leave it SERVING forever).
        healthPool = pool("deltasync-health", url, user, password, 1, settings.statementTimeout(),
            HEALTH_SOCKET_TIMEOUT);
        return new Database(embedded, pool, feedPool, healthPool);
      } catch (RuntimeException e) {
        pool.close();
        if (feedPool != null) {
          feedPool.close();
        }
        throw e;
      }
    } catch (RuntimeException e) {
      if (embedded != null) {
        embedded.close();
      }
      throw e;
    }
  }

  /**
   * Documents hold any Unicode text, and the server answers a write with the document's keys in {@code jsonb}'s
   * order, which is the order of their bytes in the database's encoding: only UTF8 holds every document and gives
   * the order the server computes. Checked before anything is migrated.
   */
  static void requireUtf8(DataSource dataSource) {
    String encoding;
    try (Connection connection = dataSource.getConnection();
        Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("SHOW server_encoding")) {
      rows.next();
      encoding = rows.getString(1);
    } catch (SQLException e) {
      throw new IllegalStateException("reading the database's encoding failed: " + e.getMessage(), e);
    }
    if (!"UTF8".equalsIgnoreCase(encoding)) {
      throw new IllegalStateException("the database's encoding is " + encoding + "; deltasync needs a UTF8 database "
          + "(CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0): documents hold any Unicode text");
    }
  }

  /** Applies the migrations under {@code classpath:db/migration} (the deltasync-db module). */
  public static void migrate(DataSource dataSource) {
    migrate(Flyway.configure().dataSource(dataSource));
  }

  private static void migrate(org.flywaydb.core.api.configuration.FluentConfiguration configuration) {
    Flyway flyway = configuration
        .locations("classpath:db/migration")
        .load();
    var result = flyway.migrate();
    var current = flyway.info().current();
    log.info("Database schema at version {} ({} migrations applied now)",
        current == null ? "none" : current.getVersion(), result.migrationsExecuted);
  }

  private static HikariDataSource pool(String name, String url, String user, String password, int size,
      Duration statementTimeout, Duration socketTimeout) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl(url);
    config.setUsername(user);
    config.setPassword(password);
    config.setMaximumPoolSize(size);
    // Every connection opened at start-up: the first burst of clients after a start (a deploy reconnects every
    // device) must not wait for PostgreSQL to start backends one by one.
    config.setMinimumIdle(size);
    // Admission control: a request waits this long for a connection, then is answered RESOURCE_EXHAUSTED (see
    // SyncStore.isOverloaded); a database that is gone fails faster than Hikari's default 30 s, too.
    config.setConnectionTimeout(ACQUIRE_TIMEOUT.toMillis());
    // Every connection is READ COMMITTED, whatever the database's default (ReadCommittedConnections relies on it).
    // The session default is set on every new connection: Hikari applies setTransactionIsolation only when it
    // differs from the default it saw on the pool's first connection, so a default changed later (ALTER DATABASE or
    // ROLE ... SET default_transaction_isolation) would otherwise reach the connections opened after it.
    config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
    config.setConnectionInitSql("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED");
    // A transaction left open holds back the change feed's watermark for every client (DESIGN-NOTES §1):
    // PostgreSQL ends our sessions that sit idle inside a transaction. A runaway statement is cancelled rather than
    // holding a connection others wait for.
    config.addDataSourceProperty("options", "-c idle_in_transaction_session_timeout=60000 -c statement_timeout="
        + statementTimeout.toMillis());
    config.addDataSourceProperty("ApplicationName", "deltasync");
    // A network that stops carrying packets (a partition, a dead router: the reliability suite's stalling proxy)
    // sends no reset, and a JDBC read would wait for an answer forever, holding its pool connection and, in the
    // health check, keeping health SERVING. PgJDBC's socketTimeout ends such a read (the connection is then broken
    // and replaced); it is longer than statement_timeout, so a slow statement is still ended by PostgreSQL first.
    config.addDataSourceProperty("socketTimeout", Long.toString(Math.max(1, socketTimeout.toSeconds())));
    config.addDataSourceProperty("loginTimeout", Long.toString(LOGIN_TIMEOUT.toSeconds()));
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

  /** jOOQ over the live change-feed reader's own connection (never waits behind requests). */
  public DSLContext feedDsl() {
    return feedDsl;
  }

  /**
   * Whether the database answers a query, on the health check's own connection: a request pool with no connection
   * free is busy, not down, and must not turn health NOT_SERVING.
   */
  public boolean isReachable() {
    try {
      return healthDsl.selectOne().fetchOne() != null;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * Publishes the pools' usage, waits and timeouts to {@code registry} through HikariCP's own Micrometer tracker
   * ({@code hikaricp_connections_*}, tagged by pool: deltasync, deltasync-feed, deltasync-health). Once per database.
   */
  public void bindMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
    var factory = new com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory(registry);
    pool.setMetricsTrackerFactory(factory);
    feedPool.setMetricsTrackerFactory(factory);
    healthPool.setMetricsTrackerFactory(factory);
  }

  /** Closes the pools, then stops the embedded PostgreSQL (if it is ours). */
  @Override
  public void close() throws IOException {
    pool.close();
    feedPool.close();
    healthPool.close();
    if (embedded != null) {
      embedded.close();
    }
  }
}

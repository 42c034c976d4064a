package io.deltasync.reliability;

import io.deltasync.server.database.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * PostgreSQL as a process of its own that the suite stops and starts on the same data directory and port, while
 * the server (a separate JVM) keeps running against it as an external database.
 *
 * <p>Why not the server's embedded PostgreSQL: a SIGKILLed server JVM leaves its postgres child running (the next
 * start stops it, see EmbeddedDatabase), so restarting PostgreSQL alone, or stopping it for 30 s under a live server,
 * could only be done by reaching into the server's process tree. Owning PostgreSQL here makes every fault one call.
 */
final class PostgresProcess implements AutoCloseable {
  static final String USER = "postgres";
  static final String PASSWORD = "postgres";

  private final Path dataDirectory;
  private final int port;
  private EmbeddedPostgres postgres;

  private PostgresProcess(Path dataDirectory, int port) {
    this.dataDirectory = dataDirectory;
    this.port = port;
  }

  /** Creates the cluster in dataDirectory, starts it and applies the server's migrations. */
  static PostgresProcess start(Path dataDirectory) throws IOException {
    PostgresProcess process = new PostgresProcess(dataDirectory, Ports.free());
    process.startAgain();
    PGSimpleDataSource source = new PGSimpleDataSource();
    source.setUrl(process.jdbcUrl());
    source.setUser(USER);
    source.setPassword(PASSWORD);
    Database.migrate(source);
    return process;
  }

  /** Starts PostgreSQL on the same directory and port (crash recovery runs if it was not stopped cleanly). */
  synchronized void startAgain() throws IOException {
    if (postgres != null) {
      throw new IllegalStateException("PostgreSQL already running on " + dataDirectory);
    }
    postgres = EmbeddedPostgres.builder()
        .setDataDirectory(dataDirectory)
        .setCleanDataDirectory(false)
        .setPort(port)
        .setPGStartupWait(Duration.ofSeconds(60))
        .setServerConfig("max_connections", "300")
        // zonky starts PostgreSQL with fsync off and synchronous_commit off (right for throw-away test databases):
        // a commit is then acknowledged before its WAL is flushed, and a PostgreSQL that stops uncleanly loses
        // acknowledged writes by design. The suite must run with the durability the server serves with.
        .setServerConfig("fsync", "on")
        .setServerConfig("synchronous_commit", "on")
        .setServerConfig("full_page_writes", "on")
        .start();
  }

  /** Stops PostgreSQL (fast shutdown: sessions are ended at once, as in an outage); the data stays. */
  synchronized void stop() throws IOException {
    if (postgres != null) {
      postgres.close();
      postgres = null;
      // zonky gives pg_ctl 5 s and then only logs; the shutdown checkpoint can take longer on a loaded machine.
      // Wait until the postmaster has removed its pid file, so that a restart never races the old one.
      java.time.Instant guard = java.time.Instant.now().plus(Duration.ofSeconds(120));
      while (java.nio.file.Files.exists(dataDirectory.resolve("postmaster.pid"))) {
        if (java.time.Instant.now().isAfter(guard)) {
          throw new IOException("PostgreSQL on " + dataDirectory + " still running 120 s after the stop");
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("waiting for PostgreSQL to stop");
        }
      }
    }
  }

  int port() {
    return port;
  }

  String jdbcUrl() {
    return "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
  }

  /** A fresh connection for the checker (not pooled: PostgreSQL restarts under it). */
  Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl(), USER, PASSWORD);
  }

  @Override
  public void close() throws IOException {
    stop();
  }
}

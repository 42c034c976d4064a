package io.deltasync.server.database;

import ch.qos.logback.classic.Level;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A server stand-in that {@link EmbeddedDatabaseIT} runs in its own JVM, so that it can kill it with SIGKILL. */
public final class EmbeddedDatabaseChild {
  private EmbeddedDatabaseChild() {}

  /** Arguments: data directory, a note to store; prints "READY port" once the note is committed. */
  public static void main(String[] args) throws Exception {
    // Without a logback.xml, logback logs at DEBUG; the parent echoes our output into the test report.
    ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).setLevel(Level.INFO);
    EmbeddedDatabase database = EmbeddedDatabase.start(Path.of(args[0]), 0);
    try (Connection connection =
            DriverManager.getConnection(database.jdbcUrl(), database.user(), database.password());
        Statement statement = connection.createStatement();
        PreparedStatement insert = connection.prepareStatement("INSERT INTO note (text) VALUES (?)")) {
      statement.execute("CREATE TABLE note (text text NOT NULL)");
      insert.setString(1, args[1]);
      insert.executeUpdate();
    }
    System.out.println("READY " + database.port());
    System.out.flush();
    // Stdin ends when the test closes it, or when the test JVM dies: never outlive it.
    while (System.in.read() != -1) {
      // Nothing is sent; we only wait for the end.
    }
    database.close();
  }
}

package io.deltasync.server.database;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedDatabaseIT {
  // A new JVM loading zonky and starting PostgreSQL takes a few seconds; generous for a loaded CI machine.
  private static final long CHILD_READY_TIMEOUT_SECONDS = 120;

  private static Path template;

  @TempDir Path temp;

  @BeforeAll
  static void createTemplate(@TempDir Path directory) throws IOException {
    // initdb (which fsyncs every file) is most of a fresh start here: copying the cluster it made once saves
    // about half a second per test.
    template = directory.resolve("template");
    EmbeddedDatabase.start(template, 0).close();
  }

  @Test
  void servesDurablyOnLoopbackOnly() throws Exception {
    try (EmbeddedDatabase database = EmbeddedDatabase.start(freshDataDirectory(), 0)) {
      assertThat(database.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:" + database.port() + "/postgres");
      assertThat(show(database, "fsync")).isEqualTo("on");
      assertThat(show(database, "synchronous_commit")).isEqualTo("on");
      assertThat(show(database, "full_page_writes")).isEqualTo("on");
      assertThat(show(database, "listen_addresses")).isEqualTo("127.0.0.1");
    }
  }

  @Test
  void keepsDataAcrossRestarts() throws Exception {
    Path directory = freshDataDirectory();
    EmbeddedDatabase first = EmbeddedDatabase.start(directory, 0);
    execute(first, "CREATE TABLE note (text text NOT NULL)", "INSERT INTO note VALUES ('kept')");
    first.close();
    first.close();

    try (EmbeddedDatabase second = EmbeddedDatabase.start(directory, 0)) {
      assertThat(notes(second.jdbcUrl())).containsExactly("kept");
    }
  }

  @Test
  void refusesASecondStartOnTheSameDirectoryInOneProcess() throws Exception {
    Path directory = freshDataDirectory();
    try (EmbeddedDatabase database = EmbeddedDatabase.start(directory, 0)) {
      assertThatThrownBy(() -> EmbeddedDatabase.start(directory, 0))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("this process already runs PostgreSQL on it");
      assertThat(show(database, "fsync")).isEqualTo("on");
    }
  }

  @Test
  void stopsThePostgresLeftRunningByAServerKilledWithSigkill() throws Exception {
    Path directory = freshDataDirectory();
    ProcessHandle leftover = null;
    try (Child child = Child.start(directory, "written before SIGKILL")) {
      leftover = postmaster(directory);
      child.process().destroyForcibly().waitFor();

      // The trap: the JVM is gone, its PostgreSQL is not, and it holds postmaster.pid.
      assertThat(EmbeddedDatabase.identify(leftover, directory)).isEqualTo(EmbeddedDatabase.Occupant.POSTGRES_HERE);

      try (EmbeddedDatabase database = EmbeddedDatabase.start(directory, 0)) {
        assertThat(notes(database.jdbcUrl())).containsExactly("written before SIGKILL");
        assertThat(EmbeddedDatabase.isGone(leftover)).isTrue();
      }
    } finally {
      killFamily(leftover);
    }
  }

  @Test
  void leavesALiveServerInAnotherProcessAlone() throws Exception {
    Path directory = freshDataDirectory();
    ProcessHandle theirs = null;
    try (Child child = Child.start(directory, "theirs")) {
      theirs = postmaster(directory);

      assertThatThrownBy(() -> EmbeddedDatabase.start(directory, 0))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("another process (pid " + child.process().pid() + ")");

      assertThat(child.process().isAlive()).isTrue();
      assertThat(notes("jdbc:postgresql://127.0.0.1:" + child.port() + "/postgres")).containsExactly("theirs");
      child.stopCleanly();
      assertThat(EmbeddedDatabase.isGone(theirs)).isTrue();
    } finally {
      killFamily(theirs);
    }
  }

  @Test
  void startsWhenThePidFileNamesAnUnrelatedLiveProcess() throws Exception {
    Path directory = freshDataDirectory();
    List<String> pidFile = pidFileOfARun(directory);
    Process unrelated = new ProcessBuilder("sleep", "600").start();
    try {
      // After a crash and a reboot the old pid may belong to anything; PostgreSQL alone would refuse to start.
      writePidFile(directory, pidFile, unrelated.pid());

      try (EmbeddedDatabase database = EmbeddedDatabase.start(directory, 0)) {
        assertThat(show(database, "fsync")).isEqualTo("on");
      }
      assertThat(unrelated.isAlive()).isTrue();
    } finally {
      unrelated.destroyForcibly();
    }
  }

  @Test
  void startsWhenThePidFileNamesAProcessThatIsGone() throws Exception {
    Path directory = freshDataDirectory();
    List<String> pidFile = pidFileOfARun(directory);
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    writePidFile(directory, pidFile, gone.pid());

    try (EmbeddedDatabase database = EmbeddedDatabase.start(directory, 0)) {
      assertThat(show(database, "fsync")).isEqualTo("on");
    }
  }

  /** A JVM running {@link EmbeddedDatabaseChild}, started and READY. */
  private record Child(Process process, int port) implements AutoCloseable {
    static Child start(Path directory, String note) throws Exception {
      String java = ProcessHandle.current().info().command().orElseThrow();
      Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
          EmbeddedDatabaseChild.class.getName(), directory.toString(), note)
          .redirectErrorStream(true)
          .start();
      try {
        return new Child(process, awaitReady(process).get(CHILD_READY_TIMEOUT_SECONDS, TimeUnit.SECONDS));
      } catch (Exception e) {
        process.destroyForcibly();
        throw e;
      }
    }

    /** Echoes the child's output and completes with the port it prints in "READY port". */
    private static CompletableFuture<Integer> awaitReady(Process process) {
      CompletableFuture<Integer> ready = new CompletableFuture<>();
      Thread reader = new Thread(() -> {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), UTF_8))) {
          for (String line; (line = lines.readLine()) != null; ) {
            System.out.println("[child " + process.pid() + "] " + line);
            if (line.startsWith("READY ")) {
              ready.complete(Integer.parseInt(line.substring("READY ".length()).strip()));
            }
          }
        } catch (IOException | RuntimeException e) {
          ready.completeExceptionally(e);
        }
        ready.completeExceptionally(new IllegalStateException("child exited before READY"));
      }, "child-output-" + process.pid());
      reader.setDaemon(true);
      reader.start();
      return ready;
    }

    /** Closing its stdin makes the child close its database and exit. */
    void stopCleanly() throws Exception {
      process.getOutputStream().close();
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    }

    @Override
    public void close() throws InterruptedException {
      process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
  }

  private Path freshDataDirectory() throws IOException {
    Path directory = temp.resolve("data");
    try (Stream<Path> files = Files.walk(template)) {
      // Pre-order: each directory is created, with its 0700 permissions, before what it holds.
      for (Path source : (Iterable<Path>) files::iterator) {
        Files.copy(source, directory.resolve(template.relativize(source).toString()),
            StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
    return directory;
  }

  /** The lines of postmaster.pid as a real run on this directory wrote them. */
  private static List<String> pidFileOfARun(Path directory) throws IOException {
    try (EmbeddedDatabase database = EmbeddedDatabase.start(directory, 0)) {
      return Files.readAllLines(directory.resolve(EmbeddedDatabase.PID_FILE));
    }
  }

  private static void writePidFile(Path directory, List<String> lines, long pid) throws IOException {
    List<String> rewritten = new ArrayList<>(lines);
    rewritten.set(0, Long.toString(pid));
    Files.write(directory.resolve(EmbeddedDatabase.PID_FILE), rewritten);
  }

  private static ProcessHandle postmaster(Path directory) {
    long pid = EmbeddedDatabase.readPid(directory.resolve(EmbeddedDatabase.PID_FILE)).orElseThrow();
    return ProcessHandle.of(pid).orElseThrow();
  }

  /** Never leave a PostgreSQL behind when a test fails half-way. */
  private static void killFamily(ProcessHandle postmaster) {
    if (postmaster != null && postmaster.isAlive()) {
      postmaster.descendants().forEach(ProcessHandle::destroyForcibly);
      postmaster.destroyForcibly();
    }
  }

  private static String show(EmbeddedDatabase database, String setting) throws SQLException {
    try (Connection connection = connect(database.jdbcUrl());
        Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery("SHOW " + setting)) {
      result.next();
      return result.getString(1);
    }
  }

  private static void execute(EmbeddedDatabase database, String... sql) throws SQLException {
    try (Connection connection = connect(database.jdbcUrl());
        Statement statement = connection.createStatement()) {
      for (String each : sql) {
        statement.execute(each);
      }
    }
  }

  private static List<String> notes(String jdbcUrl) throws SQLException {
    try (Connection connection = connect(jdbcUrl);
        Statement statement = connection.createStatement();
        ResultSet result = statement.executeQuery("SELECT text FROM note")) {
      List<String> notes = new ArrayList<>();
      while (result.next()) {
        notes.add(result.getString(1));
      }
      return notes;
    }
  }

  private static Connection connect(String jdbcUrl) throws SQLException {
    return DriverManager.getConnection(jdbcUrl, "postgres", "postgres");
  }
}

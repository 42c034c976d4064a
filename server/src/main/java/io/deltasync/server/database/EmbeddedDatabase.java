package io.deltasync.server.database;

import static java.util.Objects.requireNonNull;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded PostgreSQL the server serves data from when no external database URL is configured.
 *
 * <p>It registers no shutdown hook: the owner closes it after the gRPC server has drained, so that requests in
 * flight at shutdown still reach the database. A PostgreSQL left running because this JVM died without closing
 * it (SIGKILL, crash) is stopped by the next {@link #start} on the same directory.
 */
public final class EmbeddedDatabase implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedDatabase.class);

  private static final String HOST = "127.0.0.1";
  private static final String USER = "postgres";
  // zonky runs initdb with "-A trust": PostgreSQL checks no password from local connections, but a pool wants one.
  private static final String PASSWORD = "postgres";

  /** zonky's lock file: it holds a POSIX record lock on it for as long as its PostgreSQL should be running. */
  static final String ZONKY_LOCK_FILE = "epg-lock";
  static final String PID_FILE = "postmaster.pid";

  // zonky waits 10 s by default; crash recovery after an unclean stop replays WAL before PostgreSQL accepts
  // connections and can take longer than that.
  private static final Duration STARTUP_WAIT = Duration.ofSeconds(60);
  // A fast shutdown writes a checkpoint, which with fsync on can outlast the 5 s zonky gives pg_ctl.
  private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(30);
  private static final Duration KILL_WAIT = Duration.ofSeconds(10);
  private static final Duration POLL_INTERVAL = Duration.ofMillis(50);

  // Closing a second FileChannel on zonky's lock file would drop the lock zonky holds (POSIX locks belong to the
  // process, not to the channel), so this JVM must never probe a directory it is serving itself.
  private static final Set<Path> servedHere = ConcurrentHashMap.newKeySet();

  private final EmbeddedPostgres postgres;
  private final Path dataDirectory;
  private final Path servedKey;
  private final Optional<ProcessHandle> postmaster;
  private final AtomicBoolean closed = new AtomicBoolean();

  private EmbeddedDatabase(EmbeddedPostgres postgres, Path dataDirectory, Path servedKey,
      Optional<ProcessHandle> postmaster) {
    this.postgres = postgres;
    this.dataDirectory = dataDirectory;
    this.servedKey = servedKey;
    this.postmaster = postmaster;
  }

  /** Starts (or restarts) PostgreSQL on dataDirectory, creating it on first use. port 0 = any free port. */
  public static EmbeddedDatabase start(Path dataDirectory, int port) throws IOException {
    requireNonNull(dataDirectory, "dataDirectory");
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 0-65535, 0 = any free port)");
    }
    Path directory = dataDirectory.toAbsolutePath().normalize();
    Files.createDirectories(directory);
    Path servedKey = directory.toRealPath();
    if (!servedHere.add(servedKey)) {
      throw new IOException("data directory: " + directory
          + " (expected: not in use, but this process already runs PostgreSQL on it)");
    }
    try {
      return startOn(directory, port, servedKey);
    } catch (IOException | RuntimeException | Error e) {
      servedHere.remove(servedKey);
      throw e;
    }
  }

  private static EmbeddedDatabase startOn(Path directory, int port, Path servedKey) throws IOException {
    // Held while we look for a leftover postmaster, so that two processes starting at once cannot both decide
    // the other's freshly started PostgreSQL is a leftover. Released just before zonky takes the same lock.
    try (DataDirectoryLock lock = DataDirectoryLock.acquire(directory)) {
      stopLeftoverPostgres(directory);
    }
    EmbeddedPostgres postgres;
    try {
      postgres = EmbeddedPostgres.builder()
          .setDataDirectory(directory)
          .setCleanDataDirectory(false)
          .setPort(port)
          .setPGStartupWait(STARTUP_WAIT)
          .setRegisterShutdownHook(false)
          .setServerConfig("listen_addresses", HOST)
          // zonky passes -F (fsync off) and synchronous_commit=off, right for throw-away test databases and
          // wrong for a server's data: a power cut would lose acknowledged writes or corrupt the cluster.
          .setServerConfig("fsync", "on")
          .setServerConfig("synchronous_commit", "on")
          .setServerConfig("full_page_writes", "on")
          .start();
    } catch (IllegalStateException e) {
      if (String.valueOf(e.getMessage()).startsWith("could not lock")) {
        throw inUse(directory, directory.resolve(ZONKY_LOCK_FILE));
      }
      throw startFailed(directory, e);
    } catch (IOException | RuntimeException e) {
      throw startFailed(directory, e);
    } catch (ExceptionInInitializerError e) {
      // zonky reports a failure to unpack its binaries (a full or read-only temp directory) as this Error.
      throw startFailed(directory, e);
    }
    Optional<ProcessHandle> postmaster = readPid(directory.resolve(PID_FILE)).stream()
        .mapToObj(ProcessHandle::of).flatMap(Optional::stream).findFirst();
    log.debug("Embedded PostgreSQL (pid {}) serving {} on {}:{}",
        postmaster.map(ProcessHandle::pid).orElse(-1L), directory, HOST, postgres.getPort());
    return new EmbeddedDatabase(postgres, directory, servedKey, postmaster);
  }

  private static IOException startFailed(Path directory, Throwable cause) {
    // A postmaster that came up but failed zonky's readiness check would otherwise run on with no owner.
    try {
      stopLeftoverPostgres(directory);
    } catch (IOException | RuntimeException e) {
      cause.addSuppressed(e);
    }
    String hint = "root".equals(System.getProperty("user.name"))
        ? " (as root, PostgreSQL runs in a user namespace via 'unshare -U': check that user namespaces are"
            + " allowed, e.g. not blocked by a container's seccomp profile)"
        : "";
    return new IOException("could not start PostgreSQL on " + directory + ": " + cause.getMessage()
        + "; see the PostgreSQL output logged above" + hint, cause);
  }

  private static IOException inUse(Path directory, Path lockFile) {
    return new IOException("data directory: " + directory + " (expected: not in use, but another process"
        + lockHolder(lockFile) + " holds " + lockFile + " and runs PostgreSQL on it)");
  }

  /** The JDBC URL of the {@code postgres} database. */
  public String jdbcUrl() {
    return "jdbc:postgresql://" + HOST + ":" + port() + "/postgres";
  }

  /** The superuser the server connects as. */
  public String user() {
    return USER;
  }

  /** The password to connect with (not checked: local connections are trusted). */
  public String password() {
    return PASSWORD;
  }

  /** The TCP port PostgreSQL listens on at 127.0.0.1. */
  public int port() {
    return postgres.getPort();
  }

  /** The absolute data directory. */
  public Path dataDirectory() {
    return dataDirectory;
  }

  /** Stops PostgreSQL with a fast shutdown (sessions are ended, a checkpoint is written); idempotent. */
  @Override
  public void close() throws IOException {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      // pg_ctl stop -m fast; zonky logs rather than throws if that fails, then releases its lock.
      postgres.close();
      if (postmaster.isPresent() && !awaitGone(List.of(postmaster.get()), SHUTDOWN_WAIT)) {
        log.warn("Embedded PostgreSQL (pid {}) on {} is still shutting down after {} s; the next start on this"
            + " directory will stop it", postmaster.get().pid(), dataDirectory, SHUTDOWN_WAIT.toSeconds());
      }
    } finally {
      servedHere.remove(servedKey);
    }
  }

  /**
   * Makes way for a new postmaster when the last one on this directory was not stopped cleanly.
   *
   * <p>Only called while no other process holds zonky's lock, so a PostgreSQL still running here has lost the
   * JVM that owned it: killed with SIGKILL, the JVM cannot stop its postgres child, which lives on holding
   * postmaster.pid and makes every new start fail with "lock file postmaster.pid already exists".
   */
  static void stopLeftoverPostgres(Path directory) throws IOException {
    Path pidFile = directory.resolve(PID_FILE);
    OptionalLong pid = readPid(pidFile);
    if (pid.isEmpty()) {
      return;
    }
    Optional<ProcessHandle> process = ProcessHandle.of(pid.getAsLong());
    if (process.isEmpty()) {
      return; // PostgreSQL itself replaces a pid file whose process is gone.
    }
    switch (identify(process.get(), directory)) {
      case POSTGRES_HERE -> {
        log.warn("PostgreSQL (pid {}) is still running on {} although no process owns it: the server that"
            + " started it did not stop cleanly (killed with SIGKILL?). Stopping it (fast shutdown) before"
            + " starting again.", pid.getAsLong(), directory);
        stop(process.get());
      }
      case EXITED, SOMETHING_ELSE -> {
        // Handled below: the pid file outlived its postmaster.
      }
      case UNKNOWN -> {
        log.warn("{} names pid {}, which cannot be identified on this platform; leaving it to PostgreSQL,"
            + " which refuses to start if that process is alive", pidFile, pid.getAsLong());
        return;
      }
    }
    // PostgreSQL only asks whether the pid in the file exists, so a pid reused by an unrelated process, or a
    // postmaster that is dead but not yet reaped (a zombie), would keep it from ever starting. Removing the
    // file is safe: no PostgreSQL of this directory is running (checked above), and a leftover child still
    // attached to the shared memory would be caught by PostgreSQL's shared-memory interlock.
    if (readPid(pidFile).equals(pid) && ProcessHandle.of(pid.getAsLong()).isPresent()) {
      log.warn("Removing stale {}: its pid {} is no longer a PostgreSQL on this directory", pidFile,
          pid.getAsLong());
      Files.deleteIfExists(pidFile);
    }
  }

  private static void stop(ProcessHandle postmaster) throws IOException {
    List<ProcessHandle> family = Stream.concat(Stream.of(postmaster), postmaster.descendants()).toList();
    signalFastShutdown(postmaster);
    if (awaitGone(family, SHUTDOWN_WAIT)) {
      log.info("Stopped the leftover PostgreSQL (pid {})", postmaster.pid());
      return;
    }
    log.warn("Leftover PostgreSQL (pid {}) did not stop within {} s; killing it and its {} children (SIGKILL)."
        + " PostgreSQL will recover from its write-ahead log on start.", postmaster.pid(),
        SHUTDOWN_WAIT.toSeconds(), family.size() - 1);
    // destroyForcibly checks the start time, so a pid reused since the snapshot is not hit.
    family.forEach(ProcessHandle::destroyForcibly);
    if (!awaitGone(family, KILL_WAIT)) {
      throw new IOException("leftover PostgreSQL (pid " + postmaster.pid() + ") still running after SIGKILL");
    }
  }

  private static void signalFastShutdown(ProcessHandle postmaster) throws IOException {
    // ProcessHandle can only send SIGTERM, which PostgreSQL takes as a "smart" shutdown that waits for every
    // client to disconnect; SIGINT is its fast shutdown.
    try {
      Process kill = new ProcessBuilder("kill", "-INT", Long.toString(postmaster.pid()))
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start();
      if (kill.waitFor(5, TimeUnit.SECONDS) && kill.exitValue() == 0) {
        return;
      }
      kill.destroyForcibly();
    } catch (IOException e) {
      log.debug("Could not run kill -INT", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while stopping PostgreSQL (pid " + postmaster.pid() + ")");
    }
    postmaster.destroy();
  }

  /** Waits until every process has exited, counting a zombie as exited; false on timeout. */
  private static boolean awaitGone(List<ProcessHandle> processes, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!processes.stream().allMatch(EmbeddedDatabase::isGone)) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      try {
        Thread.sleep(POLL_INTERVAL);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for PostgreSQL to stop");
      }
    }
    return true;
  }

  static boolean isGone(ProcessHandle process) {
    if (!process.isAlive()) {
      return true;
    }
    // ProcessHandle counts a zombie as alive until its new parent (init) reaps it, which some container inits do
    // late; it holds no memory, files or ports any more.
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
      int afterName = stat.lastIndexOf(')');
      return afterName > 0 && afterName + 2 < stat.length() && stat.charAt(afterName + 2) == 'Z';
    } catch (IOException e) {
      return !process.isAlive();
    }
  }

  /** What a pid named by postmaster.pid turns out to be. */
  enum Occupant { POSTGRES_HERE, EXITED, SOMETHING_ELSE, UNKNOWN }

  static Occupant identify(ProcessHandle process, Path directory) {
    if (isGone(process)) {
      return Occupant.EXITED;
    }
    Path proc = Path.of("/proc", Long.toString(process.pid()));
    if (Files.isDirectory(proc)) {
      // Every PostgreSQL process chdirs into its data directory; unlike the command line, which PostgreSQL
      // rewrites for ps, the working directory cannot mislead. As root, zonky's `unshare -U` makes a user
      // namespace only, not a pid namespace, so the pid in postmaster.pid is the pid we see.
      try {
        boolean postgres = "postgres".equals(Files.readString(proc.resolve("comm")).strip());
        return postgres && Files.isSameFile(proc.resolve("cwd"), directory)
            ? Occupant.POSTGRES_HERE : Occupant.SOMETHING_ELSE;
      } catch (IOException | SecurityException e) {
        return isGone(process) ? Occupant.EXITED : Occupant.UNKNOWN; // e.g. another user's process
      }
    }
    // No /proc (macOS): the postmaster keeps the "-D <directory>" it was started with.
    ProcessHandle.Info info = process.info();
    Optional<String> command = info.command().map(c -> Path.of(c).getFileName().toString());
    if (command.isEmpty()) {
      return Occupant.UNKNOWN;
    }
    if (!command.get().equals("postgres") && !command.get().equals("postgres.exe")) {
      return Occupant.SOMETHING_ELSE;
    }
    List<String> arguments = info.arguments().map(List::of).orElse(List.of());
    int flag = arguments.indexOf("-D");
    if (flag < 0 || flag + 1 >= arguments.size()) {
      return Occupant.UNKNOWN;
    }
    try {
      return Files.isSameFile(Path.of(arguments.get(flag + 1)), directory)
          ? Occupant.POSTGRES_HERE : Occupant.SOMETHING_ELSE;
    } catch (IOException e) {
      return Occupant.SOMETHING_ELSE;
    }
  }

  /** The pid on the first line of postmaster.pid, if the file exists and is complete enough to hold one. */
  static OptionalLong readPid(Path pidFile) {
    try (Stream<String> lines = Files.lines(pidFile)) {
      return lines.findFirst().map(String::strip).filter(s -> s.matches("\\d{1,18}"))
          .map(s -> OptionalLong.of(Long.parseLong(s))).orElse(OptionalLong.empty());
    } catch (NoSuchFileException e) {
      return OptionalLong.empty();
    } catch (IOException | UncheckedIOException e) {
      log.debug("Could not read {}", pidFile, e);
      return OptionalLong.empty();
    }
  }

  /** Best effort " (pid N)" naming the holder of a POSIX lock on the file, from Linux's /proc/locks. */
  private static String lockHolder(Path lockFile) {
    try {
      long inode = ((Number) Files.getAttribute(lockFile, "unix:ino")).longValue();
      for (String line : Files.readAllLines(Path.of("/proc/locks"))) {
        String[] fields = line.strip().split("\\s+");
        // "1: POSIX  ADVISORY  WRITE 4416 fe:00:2150075 0 EOF"; waiters ("1: -> POSIX ...") are skipped.
        if (fields.length >= 6 && fields[1].equals("POSIX") && fields[5].endsWith(":" + inode)) {
          return " (pid " + fields[4] + ")";
        }
      }
    } catch (IOException | RuntimeException e) {
      log.debug("Could not look up the holder of {}", lockFile, e);
    }
    return "";
  }

  /** A short-lived hold on zonky's lock file, proving no other process serves the directory. */
  private static final class DataDirectoryLock implements AutoCloseable {
    private final FileChannel channel;

    private DataDirectoryLock(FileChannel channel) {
      this.channel = channel;
    }

    static DataDirectoryLock acquire(Path directory) throws IOException {
      // Before initdb the directory must stay empty, and nothing can be running on it anyway.
      if (!Files.exists(directory.resolve("PG_VERSION"))) {
        return new DataDirectoryLock(null);
      }
      Path lockFile = directory.resolve(ZONKY_LOCK_FILE);
      FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      try {
        FileLock lock = channel.tryLock();
        if (lock == null) {
          throw inUse(directory, lockFile);
        }
        return new DataDirectoryLock(channel);
      } catch (OverlappingFileLockException e) {
        // Only a failed start in this JVM leaves zonky's lock behind (its constructor threw before we got the
        // instance to close).
        channel.close();
        throw new IOException("data directory: " + directory + " (expected: not in use, but this process still"
            + " holds " + lockFile + " from an earlier failed start; restart the process)", e);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }

    @Override
    public void close() throws IOException {
      if (channel != null) {
        channel.close(); // releases the lock
      }
    }
  }
}

package io.deltasync.reliability;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The deltasync server as a separate JVM on loopback, started from this JVM's class path with {@code deltasync
 * serve}'s main class, so that it can be killed with SIGKILL ({@link #kill()}) and started again on the same port
 * and database. Its output goes to a log file per start under the suite's log directory.
 */
final class ServerProcess implements AutoCloseable {
  /** A failure guard for a start that never becomes healthy; never a timing assertion. */
  private static final Duration START_GUARD = Duration.ofSeconds(120);

  private final String name;
  private final int port;
  private Map<String, String> environment;
  private final Path logDirectory;
  private Process process;
  private int starts;
  private int kills;

  ServerProcess(String name, PostgresProcess postgres, Path logDirectory, Map<String, String> extraEnvironment) {
    this.name = name;
    this.port = Ports.free();
    this.logDirectory = logDirectory;
    Map<String, String> env = new HashMap<>();
    env.put("DELTASYNC_HOST", "127.0.0.1");
    env.put("DELTASYNC_PORT", Integer.toString(port));
    env.put("DELTASYNC_DATABASE_URL", postgres.jdbcUrl());
    env.put("DELTASYNC_DATABASE_USER", PostgresProcess.USER);
    env.put("DELTASYNC_DATABASE_PASSWORD", PostgresProcess.PASSWORD);
    // Authentication (landing in parallel) is on by default there; anonymous loopback access stays allowed with it.
    env.put("DELTASYNC_AUTH", "none");
    env.put("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0");
    // The delivery warm-up (on by default, up to 15 s per start) bounded as in every test server: its code runs at
    // each start, without its seconds. (The process gets no DELTASYNC_* variable but these.)
    env.put("DELTASYNC_WARMUP_DELIVERY_MILLIS", "300");
    env.put("DELTASYNC_WARMUP_DELIVERY_STREAMS", "8");
    env.put("DELTASYNC_ENTITY_CONFLICT_POLICIES", Chaos.POLICIES);
    env.putAll(Chaos.serverEnvironment());
    env.putAll(extraEnvironment);
    this.environment = Map.copyOf(env);
  }

  /** Sets (value non-null) or removes an environment variable for the next start. */
  synchronized void environment(String name, String value) {
    Map<String, String> env = new HashMap<>(environment);
    if (value == null) {
      env.remove(name);
    } else {
      env.put(name, value);
    }
    environment = Map.copyOf(env);
  }

  /** Starts the JVM and waits until its health service answers SERVING. */
  synchronized void start() throws IOException, InterruptedException {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(name + " is already running");
    }
    Files.createDirectories(logDirectory);
    starts++;
    String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
        "java").toString());
    List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        "io.deltasync.server.DeltaSyncMain", "serve"));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(logDirectory.resolve(name + "-" + starts + ".log").toFile());
    builder.environment().keySet().removeIf(k -> k.startsWith("DELTASYNC_"));
    builder.environment().putAll(environment);
    process = builder.start();
    awaitServing();
  }

  private void awaitServing() throws InterruptedException {
    ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    try {
      Instant guard = Instant.now().plus(START_GUARD);
      while (true) {
        if (!process.isAlive()) {
          throw new IllegalStateException(name + " exited with " + process.exitValue() + " while starting; see "
              + logDirectory);
        }
        try {
          HealthCheckResponse response = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
          if (response.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
            return;
          }
        } catch (StatusRuntimeException notYet) {
          // not listening yet
        }
        if (Instant.now().isAfter(guard)) {
          throw new IllegalStateException(name + " not serving after " + START_GUARD + "; see " + logDirectory);
        }
        Thread.sleep(100);
      }
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** SIGKILL: no shutdown hook, no drain, no goodbye to the streams. */
  synchronized void kill() throws InterruptedException {
    if (process != null && process.isAlive()) {
      kills++;
      process.destroyForcibly();
      process.waitFor();
    }
  }

  synchronized boolean isAlive() {
    return process != null && process.isAlive();
  }

  /** Waits for the process to exit by itself (a crash point halts it) and returns its exit code. */
  int awaitExit() throws InterruptedException {
    Process p;
    synchronized (this) {
      p = process;
    }
    return p.waitFor();
  }

  int port() {
    return port;
  }

  /**
   * The server's heap in use right after a full collection, in bytes, read from the server process itself with the
   * JDK's jcmd ({@code GC.run}, then {@code GC.heap_info}; the server runs the serial collector, whose two
   * generations each print a line "… total NK, used NK").
   */
  long heapAfterFullGc() throws IOException, InterruptedException {
    long pid;
    synchronized (this) {
      pid = process.pid();
    }
    jcmd(pid, "GC.run");
    String info = jcmd(pid, "GC.heap_info");
    java.util.regex.Matcher used = java.util.regex.Pattern.compile("total \\d+K, used (\\d+)K")
        .matcher(info);
    long kib = 0;
    int generations = 0;
    while (used.find()) {
      kib += Long.parseLong(used.group(1));
      generations++;
    }
    if (generations == 0) {
      throw new IllegalStateException("GC.heap_info of " + name + " not understood: " + info);
    }
    return kib * 1024;
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(pid), command)
        .redirectErrorStream(true).start();
    String output = new String(jcmd.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (jcmd.waitFor() != 0) {
      throw new IOException("jcmd " + pid + " " + command + " failed: " + output);
    }
    return output;
  }

  int kills() {
    return kills;
  }

  /** SIGTERM and wait: the graceful stop at the end of a test. */
  @Override
  public synchronized void close() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    }
  }
}

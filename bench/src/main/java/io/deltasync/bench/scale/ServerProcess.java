package io.deltasync.bench.scale;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A deltasync server in its own JVM on 127.0.0.1, started the way {@code ./deltasync serve} starts it (same main
 * class, configured by environment variables), on the benchmark's database. Its CPU time is read from
 * {@code /proc}, its heap after a full GC with {@code jcmd}, so client and server costs are reported apart.
 */
final class ServerProcess implements AutoCloseable {
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  private final Process process;
  private final int port;
  private final Path log;

  private ServerProcess(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  /** Starts a server on the database at {@code jdbcUrl} and waits until it answers SERVING. */
  static ServerProcess start(String name, String jdbcUrl, String user, String password, Path workDir,
      Map<String, String> extraEnv, String heap, Path jfr, List<String> jvmOptions)
      throws IOException, InterruptedException {
    int port = freePort();
    Path log = workDir.resolve(name + ".log");
    List<String> command = new ArrayList<>(List.of(javaExecutable(), "--enable-native-access=ALL-UNNAMED",
        "-Xms" + heap, "-Xmx" + heap, "-XX:+UseG1GC"));
    if (jfr != null) {
      command.add("-XX:StartFlightRecording=settings=profile,filename=" + jfr.toAbsolutePath());
    }
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.deltasync.server.DeltaSyncMain",
        "serve"));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    Map<String, String> env = builder.environment();
    env.keySet().removeIf(key -> key.startsWith("DELTASYNC_") || key.startsWith("SYNC_"));
    env.put("DELTASYNC_HOST", "127.0.0.1");
    env.put("DELTASYNC_PORT", Integer.toString(port));
    env.put("DELTASYNC_DATABASE_URL", jdbcUrl);
    env.put("DELTASYNC_DATABASE_USER", user);
    env.put("DELTASYNC_DATABASE_PASSWORD", password);
    env.put("DELTASYNC_DATA_DIR", workDir.resolve(name + "-data").toString());
    env.put("DELTASYNC_AUTH", "none");
    env.put("DELTASYNC_LOG_LEVEL", "WARN");
    env.put("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0");
    env.put("DELTASYNC_SHUTDOWN_GRACE_SECONDS", "2");
    // One anonymous principal opens every stream of the load client.
    env.put("DELTASYNC_MAX_STREAMS_PER_PRINCIPAL", "100000");
    env.put("DELTASYNC_MAX_PUSHES_PER_PRINCIPAL", "10000");
    env.putAll(extraEnv);
    ServerProcess server = new ServerProcess(builder.start(), port, log);
    server.awaitServing();
    return server;
  }

  private void awaitServing() throws IOException, InterruptedException {
    ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", port,
        InsecureChannelCredentials.create()).build();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IOException("the server exited with " + process.exitValue() + "; its log: " + log);
        }
        try {
          HealthCheckResponse health = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
          if (health.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
            return;
          }
        } catch (RuntimeException notYet) {
          // starting
        }
        Thread.sleep(200);
      }
      throw new IOException("the server did not answer SERVING within 120 s; its log: " + log);
    } finally {
      channel.shutdownNow();
    }
  }

  int port() {
    return port;
  }

  long pid() {
    return process.pid();
  }

  /** CPU milliseconds the server process has used so far (user + system, from /proc). */
  double cpuMillis() {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"),
          StandardCharsets.ISO_8859_1);
      String[] fields = stat.substring(stat.lastIndexOf(')') + 1).trim().split(" ");
      return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10.0;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /**
   * CPU milliseconds the server's JIT compiler threads and GC threads have used so far (user + system, from each
   * thread's /proc entry, told apart by the names HotSpot gives them): {jit, gc}. A compiler thread that exited (HotSpot
   * starts and stops them with the load) is no longer counted, so the JIT share is a lower bound.
   */
  double[] jitAndGcCpuMillis() {
    double jit = 0;
    double gc = 0;
    try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
      for (Path task : tasks.toList()) {
        try {
          String name = Files.readString(task.resolve("comm"), StandardCharsets.ISO_8859_1).trim();
          boolean isJit = name.startsWith("C1 Compiler") || name.startsWith("C2 Compiler");
          boolean isGc = name.startsWith("GC Thread") || name.startsWith("G1 ");
          if (!isJit && !isGc) {
            continue;
          }
          String stat = Files.readString(task.resolve("stat"), StandardCharsets.ISO_8859_1);
          String[] fields = stat.substring(stat.lastIndexOf(')') + 1).trim().split(" ");
          double millis = (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10.0;
          if (isJit) {
            jit += millis;
          } else {
            gc += millis;
          }
        } catch (IOException | RuntimeException e) {
          // The thread ended while it was read.
        }
      }
    } catch (IOException | RuntimeException e) {
      return new double[] {Double.NaN, Double.NaN};
    }
    return new double[] {jit, gc};
  }

  /** Heap in use after a full GC, in bytes (jcmd GC.run, then GC.heap_info). */
  long heapAfterGc() throws IOException, InterruptedException {
    jcmd("GC.run");
    Matcher used = HEAP_USED.matcher(jcmd("GC.heap_info"));
    if (!used.find()) {
      throw new IOException("jcmd GC.heap_info: no 'used' figure");
    }
    return Long.parseLong(used.group(1)) * 1024;
  }

  private String jcmd(String what) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), what).redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("jcmd " + what + " failed: " + out);
    }
    return out;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  static String javaExecutable() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}

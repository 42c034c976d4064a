package io.deltasync.server.docs;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ServerConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the README's {@code buf curl} lines exactly as written against the server started as
 * {@code ./deltasync serve} starts it (its main class in a separate JVM, default port, embedded PostgreSQL), then
 * stops it with SIGTERM, starts it again on the same data directory and checks the data is still there.
 */
class ReadmeCommandsIT {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();
  private static final Path BUF_BIN = ROOT.resolve("tools/buf/node_modules/.bin");

  @TempDir
  Path dataDirectory;

  private final List<Process> servers = new ArrayList<>();

  @AfterEach
  void stopServers() throws InterruptedException {
    for (Process server : servers) {
      server.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
  }

  record Result(int exitCode, String output) {}

  private static List<String> readmeBufCurlLines() throws IOException {
    List<String> lines = Files.readAllLines(ROOT.resolve("README.md")).stream()
        .filter(line -> line.startsWith("buf curl "))
        .toList();
    assertThat(lines).as("buf curl lines in README.md").hasSize(4);
    return lines;
  }

  private Process startServer(Path log) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        "io.deltasync.server.DeltaSyncMain", "serve")
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("DELTASYNC_") || name.startsWith("SYNC_"));
    builder.environment().put("DELTASYNC_DATA_DIR", dataDirectory.toString());
    Process server = builder.start();
    servers.add(server);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!Files.readString(log).contains("deltasync listening on 127.0.0.1:" + ServerConfig.DEFAULT_PORT)) {
      assertThat(server.isAlive()).as("server exited early:%n%s", Files.readString(log)).isTrue();
      if (System.nanoTime() > deadline) {
        throw new AssertionError("server did not start within 120 s:\n" + Files.readString(log));
      }
      Thread.sleep(100);
    }
    return server;
  }

  private static Result run(String commandLine) throws Exception {
    ProcessBuilder builder = new ProcessBuilder("bash", "-c", commandLine).redirectErrorStream(true);
    builder.environment().put("PATH", BUF_BIN + ":" + System.getenv("PATH"));
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(process.exitValue(), output);
  }

  @Test
  void theReadmeCommandsWorkAsWrittenAndDataSurvivesARestart(@TempDir Path logs) throws Exception {
    List<String> lines = readmeBufCurlLines();
    Process server = startServer(logs.resolve("first.log"));

    Result services = run(lines.get(0));
    assertThat(services.exitCode()).as(services.output()).isZero();
    assertThat(services.output().lines()).contains("deltasync.v1.SyncService", "deltasync.v1.AdminService",
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection");

    Result health = run(lines.get(1));
    assertThat(health.exitCode()).as(health.output()).isZero();
    assertThat(health.output()).contains("\"status\": \"SERVING\"");

    Result push = run(lines.get(2));
    assertThat(push.exitCode()).as(push.output()).isZero();
    assertThat(push.output()).contains("\"status\": \"DELTA_STATUS_APPLIED\"", "\"rowVersion\": \"1\"",
        "\"etag\": \"1-").doesNotContain("replayed");

    Result pull = run(lines.get(3));
    assertThat(pull.exitCode()).as(pull.output()).isZero();
    assertThat(pull.output()).contains("\"entityId\": \"hello\"", "\"title\": \"Hello, deltasync\"", "\"cursor\"");

    // SIGTERM: graceful shutdown, then the same data directory again.
    server.destroy();
    assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(Files.readString(logs.resolve("first.log"))).contains("Shutting down");
    startServer(logs.resolve("second.log"));

    Result pullAgain = run(lines.get(3));
    assertThat(pullAgain.output()).contains("\"entityId\": \"hello\"", "\"title\": \"Hello, deltasync\"");
    Result pushAgain = run(lines.get(2));
    assertThat(pushAgain.output()).contains("\"status\": \"DELTA_STATUS_APPLIED\"", "\"replayed\": true");
  }
}

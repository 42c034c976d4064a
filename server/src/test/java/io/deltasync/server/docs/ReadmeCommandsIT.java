package io.deltasync.server.docs;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the README's {@code buf curl} lines against the server started as {@code ./deltasync serve} starts it (its
 * main class in a separate JVM, embedded PostgreSQL), then stops it with SIGTERM, starts it again on the same data
 * directory and checks the data is still there.
 *
 * <p>The server listens on a free port ({@code DELTASYNC_PORT=0}; the port is read from its start-up line), and the
 * README's address {@code 127.0.0.1:7420} is replaced by that port in each line and nothing else: the suite must
 * pass while a developer's own {@code ./deltasync serve} holds the default port.
 */
class ReadmeCommandsIT {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();
  private static final Path BUF_BIN = ROOT.resolve("tools/buf/node_modules/.bin");
  private static final String README_ADDRESS = "127.0.0.1:" + ServerConfig.DEFAULT_PORT;
  private static final Pattern LISTENING = Pattern.compile("deltasync listening on 127\\.0\\.0\\.1:(\\d+)");

  @TempDir
  Path dataDirectory;

  private final List<Process> servers = new ArrayList<>();

  @AfterEach
  void stopServers() throws InterruptedException {
    // SIGTERM first: a SIGKILLed server leaves its PostgreSQL running, which keeps writing into the temporary data
    // directory while JUnit deletes it.
    for (Process server : servers) {
      server.destroy();
      if (!server.waitFor(60, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  record Result(int exitCode, String output) {}

  private static List<String> readmeBufCurlLines() throws IOException {
    List<String> lines = Files.readAllLines(ROOT.resolve("README.md")).stream()
        .filter(line -> line.startsWith("buf curl "))
        .toList();
    assertThat(lines).as("buf curl lines in README.md").hasSize(4);
    assertThat(lines).as("each README line addresses the default port once").allSatisfy(line ->
        assertThat(line.split(Pattern.quote(README_ADDRESS), -1)).hasSize(2));
    return lines;
  }

  /** A started server and the port it listens on. */
  private record Started(Process process, int port) {
    /** The README line, addressed to this server. */
    String address(String readmeLine) {
      return readmeLine.replace(README_ADDRESS, "127.0.0.1:" + port);
    }
  }

  private Started startServer(Path log) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        "io.deltasync.server.DeltaSyncMain", "serve")
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("DELTASYNC_") || name.startsWith("SYNC_"));
    builder.environment().putAll(TestServerConfig.SHORT_WARMUP);
    builder.environment().put("DELTASYNC_DATA_DIR", dataDirectory.toString());
    builder.environment().put("DELTASYNC_PORT", "0");
    Process server = builder.start();
    servers.add(server);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    Matcher listening;
    while (!(listening = LISTENING.matcher(Files.readString(log))).find()) {
      assertThat(server.isAlive()).as("server exited early:%n%s", Files.readString(log)).isTrue();
      if (System.nanoTime() > deadline) {
        throw new AssertionError("server did not start within 120 s:\n" + Files.readString(log));
      }
      Thread.sleep(100);
    }
    return new Started(server, Integer.parseInt(listening.group(1)));
  }

  private Result run(String commandLine) throws Exception {
    // From the repository's root, as a developer runs them; ./deltasync token reads the key the server created in
    // its data directory, and uses the build this test runs in.
    ProcessBuilder builder = new ProcessBuilder("bash", "-c", commandLine).redirectErrorStream(true)
        .directory(ROOT.toFile());
    builder.environment().put("PATH", BUF_BIN + ":" + System.getenv("PATH"));
    builder.environment().keySet().removeIf(name -> name.startsWith("DELTASYNC_") || name.startsWith("SYNC_"));
    builder.environment().putAll(TestServerConfig.SHORT_WARMUP);
    builder.environment().put("DELTASYNC_DATA_DIR", dataDirectory.toString());
    builder.environment().put("DELTASYNC_SKIP_BUILD", "1");
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(process.exitValue(), output);
  }

  @Test
  void theReadmeCommandsWorkAsWrittenAndDataSurvivesARestart(@TempDir Path logs) throws Exception {
    List<String> lines = readmeBufCurlLines();
    Started first = startServer(logs.resolve("first.log"));
    assertThat(first.port()).isNotEqualTo(ServerConfig.DEFAULT_PORT);

    Result services = run(first.address(lines.get(0)));
    assertThat(services.exitCode()).as(services.output()).isZero();
    assertThat(services.output().lines()).contains("deltasync.v1.SyncService", "deltasync.v1.AdminService",
        "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection");

    Result health = run(first.address(lines.get(1)));
    assertThat(health.exitCode()).as(health.output()).isZero();
    assertThat(health.output()).contains("\"status\": \"SERVING\"");

    Result push = run(first.address(lines.get(2)));
    assertThat(push.exitCode()).as(push.output()).isZero();
    assertThat(push.output()).contains("\"status\": \"DELTA_STATUS_APPLIED\"", "\"rowVersion\": \"1\"",
        "\"etag\": \"1-").doesNotContain("replayed");

    // Authentication is on: the same Push without its token is refused.
    String withoutToken = first.address(lines.get(2)).replaceFirst("-H \"Authorization: Bearer [^\"]*\" ", "");
    assertThat(withoutToken).doesNotContain("Authorization");
    Result refused = run(withoutToken);
    assertThat(refused.exitCode()).as(refused.output()).isNotZero();
    assertThat(refused.output()).containsIgnoringCase("unauthenticated");

    Result pull = run(first.address(lines.get(3)));
    assertThat(pull.exitCode()).as(pull.output()).isZero();
    assertThat(pull.output()).contains("\"entityId\": \"hello\"", "\"title\": \"Hello, deltasync\"", "\"cursor\"");

    // SIGTERM: graceful shutdown, then the same data directory again.
    first.process().destroy();
    assertThat(first.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(Files.readString(logs.resolve("first.log"))).contains("Shutting down");
    Started second = startServer(logs.resolve("second.log"));

    Result pullAgain = run(second.address(lines.get(3)));
    assertThat(pullAgain.output()).contains("\"entityId\": \"hello\"", "\"title\": \"Hello, deltasync\"");
    Result pushAgain = run(second.address(lines.get(2)));
    assertThat(pushAgain.output()).contains("\"status\": \"DELTA_STATUS_APPLIED\"", "\"replayed\": true");
  }
}

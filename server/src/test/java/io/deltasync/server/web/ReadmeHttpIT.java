package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deltasync.server.WebConfig;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Runs every {@code curl} line of the README's HTTP block as written, with {@code bash}, against a real server with
 * token authentication and its HTTP port on a free port, and checks each answer's HTTP status and JSON body.
 *
 * <p>Two things differ from a reader's shell, and nothing else: the README's address {@code 127.0.0.1:7421} is
 * replaced by the test server's, and {@code $TOKEN} is a token the test signs (admin role, scope demo) instead of
 * one from {@code ./deltasync token}. curl is also told to print the HTTP status after the body
 * ({@code -w}), which changes what it prints, not what it sends.
 */
class ReadmeHttpIT {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();
  private static final String README_ADDRESS = "127.0.0.1:7421";
  private static final Pattern PATH = Pattern.compile("http://127\\.0\\.0\\.1:7421(/sync/[a-z/-]+)");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path KEYS;

  static {
    try {
      KEYS = Credentials.publicKeyFile(Files.createTempDirectory("readme-http"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Credentials.tokenServer(KEYS)))
      .withWeb(WebConfig.defaults().withPort(0)));

  /** The README's curl lines, in order. */
  private static List<String> readmeCurlLines() throws IOException {
    return Files.readAllLines(ROOT.resolve("README.md")).stream().filter(line -> line.startsWith("curl ")).toList();
  }

  private record Answer(int httpStatus, JsonNode body) {}

  private static Answer run(String readmeLine, String token) throws Exception {
    int port = server.server().httpPort().orElseThrow();
    String line = readmeLine.replace(README_ADDRESS, "127.0.0.1:" + port) + " -w '\\n%{http_code}'";
    ProcessBuilder builder = new ProcessBuilder("bash", "-c", line).redirectErrorStream(true);
    builder.environment().put("TOKEN", token);
    Process curl = builder.start();
    String output = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(curl.waitFor(60, TimeUnit.SECONDS)).as("curl ended: " + line).isTrue();
    assertThat(curl.exitValue()).as("curl's exit code for %s; output: %s", line, output).isZero();
    int split = output.lastIndexOf('\n');
    return new Answer(Integer.parseInt(output.substring(split + 1).trim()), JSON.readTree(output.substring(0, split)));
  }

  @Test
  void everyRestPathOfTheReadmeAnswersAsTheReadmeSays() throws Exception {
    String token = Credentials.hs256(Credentials.claims("readme", List.of("admin"), List.of("demo")).build());
    Map<String, Answer> answers = new LinkedHashMap<>();
    for (String line : readmeCurlLines()) {
      Matcher path = PATH.matcher(line);
      assertThat(path.find()).as("a README curl line names a /sync path: " + line).isTrue();
      String key = line.contains("Authorization") ? path.group(1) : path.group(1) + " without a token";
      Answer answer = run(line, token);
      String shown = answer.body().toString();
      System.out.println(key + " -> HTTP " + answer.httpStatus() + " " + shown.substring(0, Math.min(400,
          shown.length())));
      answers.put(key, answer);
    }

    assertThat(answers.keySet()).as("every REST path of the design is in the README").containsExactlyInAnyOrder(
        "/sync/push", "/sync/batch/push", "/sync/pull", "/sync/batch/pull", "/sync/status", "/sync/conflicts",
        "/sync/resolve-conflict", "/sync/metrics", "/sync/cleanup", "/sync/status without a token");

    for (String push : List.of("/sync/push", "/sync/batch/push")) {
      assertThat(answers.get(push).httpStatus()).as(push).isEqualTo(200);
      assertThat(answers.get(push).body().at("/results/0/status").asText()).as(push)
          .isEqualTo("DELTA_STATUS_APPLIED");
    }
    Answer pull = answers.get("/sync/pull");
    assertThat(pull.httpStatus()).isEqualTo(200);
    assertThat(pull.body().get("changes")).extracting(change -> change.at("/entity/entityId").asText())
        .containsExactly("web", "web-batch");
    assertThat(pull.body().get("nextCursor").asText()).isNotEmpty();
    Answer batchPull = answers.get("/sync/batch/pull");
    assertThat(batchPull.httpStatus()).isEqualTo(200);
    assertThat(batchPull.body().get("changes")).hasSize(2);

    Answer status = answers.get("/sync/status");
    assertThat(status.httpStatus()).as(status.body().toString()).isEqualTo(200);
    assertThat(status.body().get("serverCursor").asText()).isNotEmpty();
    assertThat(status.body().get("databaseReachable").asBoolean()).isTrue();

    Answer conflicts = answers.get("/sync/conflicts");
    assertThat(conflicts.httpStatus()).isEqualTo(200);
    assertThat(conflicts.body().path("conflicts").size()).isZero();

    Answer resolve = answers.get("/sync/resolve-conflict");
    assertThat(resolve.httpStatus()).as(resolve.body().toString()).isEqualTo(404);
    assertThat(resolve.body().get("code").asInt()).isEqualTo(5);
    assertThat(resolve.body().get("details")).anySatisfy(detail -> {
      assertThat(detail.get("@type").asText()).isEqualTo("type.googleapis.com/google.rpc.ErrorInfo");
      assertThat(detail.get("reason").asText()).isEqualTo("CONFLICT_NOT_FOUND");
      assertThat(detail.get("domain").asText()).isEqualTo("deltasync.dev");
    });

    Answer metrics = answers.get("/sync/metrics");
    assertThat(metrics.httpStatus()).isEqualTo(200);
    assertThat(metrics.body().get("metrics")).anySatisfy(metric ->
        assertThat(metric.get("name").asText()).startsWith("deltasync_"));

    Answer cleanup = answers.get("/sync/cleanup");
    assertThat(cleanup.httpStatus()).as(cleanup.body().toString()).isEqualTo(200);

    Answer anonymous = answers.get("/sync/status without a token");
    assertThat(anonymous.httpStatus()).isEqualTo(401);
    assertThat(anonymous.body().get("code").asInt()).isEqualTo(16);
    assertThat(anonymous.body().get("details")).anySatisfy(detail ->
        assertThat(detail.get("reason").asText()).isEqualTo("TOKEN_MISSING"));
  }
}

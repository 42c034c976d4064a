package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.WebConfig;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncServiceGrpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The web console in headless Chromium (Debian's chromium, driven by playwright-core; both installed by
 * tools/browser/install.sh, which the build runs before the integration tests): two pages edit the same entity and
 * each sees the other's edit; a conflict made by two clients is resolved from the console and the resolution
 * reaches a Sync stream. Skipped, saying why, only where Chromium or playwright-core could not be installed.
 */
class ConsoleBrowserIT {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();
  private static final Path TOOLS = ROOT.resolve("tools/browser");
  private static final Path SCENARIOS = ROOT.resolve("server/src/test/browser/console-scenarios.mjs");
  private static final Path KEYS;
  private static final String SCOPE = "team-a";

  static {
    try {
      KEYS = Credentials.publicKeyFile(Files.createTempDirectory("console"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // Every conflict is queued for a person to resolve: the console's own edits are based on what they show.
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Credentials.tokenServer(KEYS)))
      .withConflicts(ConflictPolicy.CONFLICT_POLICY_MANUAL, config.conflicts())
      .withWeb(WebConfig.defaults().withPort(0)));

  private static Path chromium;

  @BeforeAll
  static void browserIsInstalled() {
    chromium = java.util.stream.Stream.of("/usr/bin/chromium", "/usr/bin/chromium-browser")
        .map(Path::of).filter(Files::isExecutable).findFirst().orElse(null);
    Assumptions.assumeTrue(chromium != null, "Chromium is not installed and tools/browser/install.sh could not "
        + "install it (it needs root and apt-get: apt-get install chromium); the console's browser tests are skipped");
    Assumptions.assumeTrue(Files.isRegularFile(TOOLS.resolve("node_modules/playwright-core/package.json")),
        "playwright-core is not installed (cd tools/browser && npm ci); the console's browser tests are skipped");
  }

  private static String token(String sub) {
    return Credentials.hs256(Credentials.claims(sub, List.of("admin"), List.of(SCOPE)).build());
  }

  private static SyncServiceGrpc.SyncServiceBlockingStub sync(String sub) {
    return SyncServiceGrpc.newBlockingStub(Credentials.bearer(server.channel(), token(sub)))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** Runs a scenario of console-scenarios.mjs; returns its output once it has passed. */
  private static String runScenario(String scenario, Map<String, String> settings) throws Exception {
    ProcessBuilder builder = new ProcessBuilder("node", SCENARIOS.toString(), scenario).redirectErrorStream(true);
    builder.environment().putAll(settings);
    builder.environment().put("BASE_URL", "http://127.0.0.1:" + server.server().httpPort().orElseThrow());
    builder.environment().put("SCOPE", SCOPE);
    builder.environment().put("CHROMIUM", chromium.toString());
    builder.environment().put("PLAYWRIGHT", TOOLS.resolve("package.json").toString());
    Process node = builder.start();
    String output = new String(node.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(node.waitFor(5, TimeUnit.MINUTES)).as("the scenario ended").isTrue();
    assertThat(node.exitValue()).as("scenario %s: %s", scenario, output).isZero();
    assertThat(output).contains("ok " + scenario);
    return output;
  }

  @Test
  void twoPagesEditTheSameEntityAndEachSeesTheOthersEdit() throws Exception {
    runScenario("two-pages", Map.of("TOKEN", token("console-user"), "ENTITY", "shared-note"));
    // The browser is closed: its watches (each page watched twice, at sign-in and at the Watch button) are over.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!server.server().sessions().stats().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(server.server().sessions().stats()).as("sessions left after the browser closed").isEmpty();

    var pulled = sync("checker").pull(io.deltasync.v1.PullRequest.newBuilder().addScopes(SCOPE).build());
    Change last = pulled.getChangesList().stream()
        .filter(c -> c.getEntity().getEntityId().equals("shared-note")).reduce((a, b) -> b).orElseThrow();
    assertThat(last.getEntity().getRowVersion()).isEqualTo(3);
    assertThat(last.getEntity().getData().getFieldsOrThrow("title").getStringValue()).isEqualTo("edited on page A");
  }

  @Test
  void aConflictOfTwoClientsIsResolvedInTheConsoleAndTheResolutionReachesASyncStream() throws Exception {
    String entity = "disputed";
    assertThat(sync("alice").push(PushRequest.newBuilder().setClientId("alice")
        .addDeltas(Deltas.create(entity, Deltas.doc("title", "original"))).build()).getResults(0).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(sync("bob").push(PushRequest.newBuilder().setClientId("bob")
        .addDeltas(Deltas.update(entity, 1, Deltas.doc("title", "the server side"))).build()).getResults(0)
        .getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(sync("carol").push(PushRequest.newBuilder().setClientId("carol")
        .addDeltas(Deltas.update(entity, 1, Deltas.doc("title", "the client side"))).build()).getResults(0)
        .getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);

    try (StreamClient stream = new StreamClient(Credentials.bearer(server.channel(), token("dave")))) {
      stream.hello("dave-phone", "", Subscription.newBuilder().setEntityType("note").addScopes(SCOPE).build());
      stream.awaitLive();
      Path screenshot = ROOT.resolve("server/target/console.png");
      runScenario("resolve", Map.of("TOKEN", token("console-user"), "ENTITY", entity,
          "CLIENT_TEXT", "the client side", "SERVER_TEXT", "the server side", "SCREENSHOT", screenshot.toString()));
      assertThat(screenshot).isRegularFile();

      Change resolved = null;
      for (int seen = stream.changes().size(); resolved == null; seen++) {
        resolved = stream.awaitChanges(seen).stream()
            .filter(c -> c.getEntity().getEntityId().equals(entity) && c.getEntity().getRowVersion() == 3)
            .findFirst().orElse(null);
      }
      assertThat(resolved.getEntity().getData().getFieldsOrThrow("title").getStringValue())
          .isEqualTo("the client side");
    }
  }
}

package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.grpc.GrpcSerializationFormats;
import com.nimbusds.jwt.JWTClaimsSet;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.WebConfig;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.Change;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.WatchChangesRequest;
import io.deltasync.v1.WatchChangesResponse;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The HTTP port against a real server: WatchChanges over gRPC-Web (the changes a browser sees, with Sync's cursor
 * and scope rules and the end of an expired token), and the HTTP/JSON errors (status, google.rpc.Status body).
 */
class WebApiIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path KEYS;
  // One second: a watch that outlives three of them proves the server does not wait for the (silent) client.
  private static final Duration HEARTBEAT = Duration.ofSeconds(1);

  static {
    try {
      KEYS = Credentials.publicKeyFile(Files.createTempDirectory("web-api"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> {
    Map<String, String> env = new HashMap<>(Credentials.tokenServer(KEYS));
    // No leeway, a short warning: a token that expires during the test ends its watch soon after.
    env.put("DELTASYNC_JWT_LEEWAY_SECONDS", "0");
    env.put("DELTASYNC_TOKEN_EXPIRY_WARNING_SECONDS", "1");
    return config.withAuth(AuthSettings.from(env))
        .withStream(new ServerConfig.Stream(HEARTBEAT, 1_000, Duration.ofMillis(50)))
        .withWeb(WebConfig.defaults().withPort(0));
  });

  private final List<Watch> watches = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void closeWatches() {
    watches.forEach(Watch::close);
  }

  private static String token(String sub, List<String> scopes) {
    return Credentials.hs256(Credentials.claims(sub, List.of("writer"), scopes).build());
  }

  private static String baseUri() {
    return "http://127.0.0.1:" + server.server().httpPort().orElseThrow();
  }

  /** A WatchChanges call over gRPC-Web (binary protobuf), the way a browser's gRPC-Web client makes it. */
  private final class Watch implements ClientResponseObserver<WatchChangesRequest, WatchChangesResponse>,
      AutoCloseable {
    final BlockingQueue<SyncResponse> received = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> end = new CompletableFuture<>();
    final List<Change> changes = new ArrayList<>();
    volatile ClientCallStreamObserver<WatchChangesRequest> call;

    Watch(String token, WatchChangesRequest request) {
      this(token, request, GrpcSerializationFormats.PROTO_WEB);
    }

    Watch(String token, WatchChangesRequest request, com.linecorp.armeria.common.SerializationFormat format) {
      SyncServiceGrpc.SyncServiceStub stub = GrpcClients.builder(baseUri())
          .serializationFormat(format)
          .responseTimeoutMillis(0)
          .addHeader("authorization", "Bearer " + token)
          .build(SyncServiceGrpc.SyncServiceStub.class);
      watches.add(this);
      stub.watchChanges(request, this);
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchChangesRequest> requestStream) {
      call = requestStream;
    }

    @Override
    public void onNext(WatchChangesResponse value) {
      received.add(value.getEvent());
    }

    @Override
    public void onError(Throwable t) {
      end.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      end.complete(Status.OK);
    }

    SyncResponse await(Predicate<SyncResponse> wanted, String what) throws InterruptedException {
      while (true) {
        SyncResponse next = received.poll(60, TimeUnit.SECONDS);
        assertThat(next).as("waiting for " + what + " (ended: " + end.getNow(null) + ")").isNotNull();
        if (next.hasChanges()) {
          changes.addAll(next.getChanges().getChangesList());
        }
        if (wanted.test(next)) {
          return next;
        }
      }
    }

    /** Waits until a change of {@code entityId} arrived; returns it. */
    Change awaitChangeOf(String entityId) throws InterruptedException {
      while (changes.stream().noneMatch(c -> c.getEntity().getEntityId().equals(entityId))) {
        await(SyncResponse::hasChanges, "a change of " + entityId);
      }
      return changes.stream().filter(c -> c.getEntity().getEntityId().equals(entityId)).reduce((a, b) -> b)
          .orElseThrow();
    }

    @Override
    public void close() {
      call.cancel("the test closed the watch", null);
    }
  }

  private static WatchChangesRequest watchOf(String clientId, String cursor, String... scopes) {
    return WatchChangesRequest.newBuilder().setClientId(clientId).setCursor(cursor)
        .addSubscriptions(Subscription.newBuilder().setEntityType("note").addAllScopes(List.of(scopes))).build();
  }

  /** POSTs JSON to a REST path; returns the status and the parsed body. */
  private HttpResponse<String> post(String path, String token, String json) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUri() + path))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json));
    if (token != null) {
      request.header("authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private void pushOverHttp(String token, String scope, String entityId, String title) throws Exception {
    HttpResponse<String> response = post("/sync/push", token, """
        {"clientId": "writer", "deltas": [{"deltaId": "%s", "entityType": "note", "entityId": "%s",
         "scope": "%s", "operation": "OPERATION_CREATE", "data": {"title": "%s"}}]}
        """.formatted(java.util.UUID.randomUUID(), entityId, scope, title));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(JSON.readTree(response.body()).at("/results/0/status").asText()).isEqualTo("DELTA_STATUS_APPLIED");
  }

  @Test
  void aWatchGetsTheInitialStateThenLiveChangesOfItsScopeOnlyAndOutlivesItsSilence() throws Exception {
    String writer = token("writer", List.of("web-a", "web-b"));
    pushOverHttp(writer, "web-a", "before", "there before the watch");
    Watch watch = new Watch(token("reader-a", List.of("web-a")), watchOf("browser-a", "", "web-a"));
    watch.await(SyncResponse::hasWelcome, "welcome");
    assertThat(watch.awaitChangeOf("before").getEntity().getData().getFieldsOrThrow("title").getStringValue())
        .isEqualTo("there before the watch");
    watch.await(r -> r.hasChanges() && r.getChanges().getPhase() == io.deltasync.v1.SyncPhase.SYNC_PHASE_LIVE,
        "the live phase");

    // The client sends nothing; a Sync stream silent for three heartbeat intervals is closed. A watch is not.
    Thread.sleep(HEARTBEAT.multipliedBy(5).toMillis());
    assertThat(watch.end).as("the watch is still open after five heartbeat intervals").isNotDone();

    pushOverHttp(writer, "web-b", "other-scope", "not for reader-a");
    pushOverHttp(writer, "web-a", "live", "pushed while watching");
    Change live = watch.awaitChangeOf("live");
    assertThat(live.getEntity().getScope()).isEqualTo("web-a");
    assertThat(watch.changes).extracting(c -> c.getEntity().getScope()).containsOnly("web-a");
  }

  /**
   * gRPC-Web with JSON: the initial state's and catch-up's documents, which the server carries as protobuf bytes
   * (store.DocumentWire), are printed like any other field (a JSON printer skips unknown fields).
   */
  @Test
  void aWatchOverJsonGetsTheDocumentsOfItsInitialStateAndCatchUp() throws Exception {
    String writer = token("writer", List.of("web-j"));
    pushOverHttp(writer, "web-j", "in-state", "there before the watch");
    String reader = token("reader-j", List.of("web-j"));
    Watch first = new Watch(reader, watchOf("browser-j", "", "web-j"), GrpcSerializationFormats.JSON_WEB);
    assertThat(first.awaitChangeOf("in-state").getEntity().getData().getFieldsOrThrow("title").getStringValue())
        .isEqualTo("there before the watch");
    String cursor = first.await(r -> r.hasChanges() && !r.getChanges().getCursor().isEmpty()
        && r.getChanges().getPhase() == io.deltasync.v1.SyncPhase.SYNC_PHASE_LIVE, "a cursor of the live phase")
        .getChanges().getCursor();
    first.close();
    pushOverHttp(writer, "web-j", "caught-up", "written while away");
    Watch resumed = new Watch(reader, watchOf("browser-j", cursor, "web-j"), GrpcSerializationFormats.JSON_WEB);
    assertThat(resumed.awaitChangeOf("caught-up").getEntity().getData().getFieldsOrThrow("title").getStringValue())
        .isEqualTo("written while away");
  }

  @Test
  void aWatchResumesAfterItsCursorLikeASyncStream() throws Exception {
    String writer = token("writer", List.of("web-c"));
    String reader = token("reader-c", List.of("web-c"));
    pushOverHttp(writer, "web-c", "first", "1");
    Watch first = new Watch(reader, watchOf("browser-c", "", "web-c"));
    first.awaitChangeOf("first");
    SyncResponse live = first.await(r -> r.hasChanges() && !r.getChanges().getCursor().isEmpty()
        && r.getChanges().getPhase() == io.deltasync.v1.SyncPhase.SYNC_PHASE_LIVE, "a cursor of the live phase");
    String cursor = live.getChanges().getCursor();
    first.close();
    pushOverHttp(writer, "web-c", "second", "2");

    Watch resumed = new Watch(reader, watchOf("browser-c", cursor, "web-c"));
    resumed.awaitChangeOf("second");
    assertThat(resumed.changes).extracting(c -> c.getEntity().getEntityId()).containsExactly("second");
  }

  @Test
  void aCancelledWatchLeavesNoSessionBehind() throws Exception {
    String reader = token("reader-h", List.of("web-h"));
    Watch welcomed = new Watch(reader, watchOf("browser-h1", "", "web-h"));
    welcomed.await(SyncResponse::hasWelcome, "welcome");
    welcomed.close();
    // Cancelled before the server has even read the request, as a browser tab closed at once.
    new Watch(reader, watchOf("browser-h2", "", "web-h")).close();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (openSessionsOf("browser-h1", "browser-h2") > 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(openSessionsOf("browser-h1", "browser-h2")).isZero();
    assertThat(server.server().sessions().stats()).noneMatch(stats ->
        stats.state() == io.deltasync.server.stream.SyncSession.State.AWAITING_HELLO);
  }

  private static long openSessionsOf(String... clientIds) {
    return server.server().sessions().stats().stream()
        .filter(stats -> List.of(clientIds).stream().anyMatch(id -> stats.clientId().endsWith(id))).count();
  }

  @Test
  void aWatchOfAScopeTheTokenMayNotReadIsRefused() throws Exception {
    Watch watch = new Watch(token("reader-d", List.of("web-d")), watchOf("browser-d", "", "web-other"));
    Status end = watch.end.get(60, TimeUnit.SECONDS);
    assertThat(end.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
  }

  @Test
  void anExpiredTokenEndsTheWatch() throws Exception {
    Instant now = Instant.now();
    JWTClaimsSet shortLived = Credentials.claims("reader-e", List.of("reader"), List.of("web-e"))
        .expirationTime(Date.from(now.plusSeconds(3))).build();
    Watch watch = new Watch(Credentials.hs256(shortLived), watchOf("browser-e", "", "web-e"));
    watch.await(SyncResponse::hasWelcome, "welcome");
    watch.await(SyncResponse::hasTokenExpiring, "the expiry warning");
    Status end = watch.end.get(60, TimeUnit.SECONDS);
    assertThat(end.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(end.getDescription()).containsIgnoringCase("expired");
  }

  @Test
  void invalidJsonInputIsABadRequestWithFieldViolations() throws Exception {
    HttpResponse<String> response = post("/sync/push", token("writer", List.of("web-f")), """
        {"clientId": "", "deltas": []}
        """);
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(type ->
        assertThat(type).startsWith("application/json"));
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("code").asInt()).isEqualTo(3);
    assertThat(body.get("details")).anySatisfy(detail -> {
      assertThat(detail.get("@type").asText()).isEqualTo("type.googleapis.com/google.rpc.BadRequest");
      assertThat(detail.at("/fieldViolations/0/field").asText()).isEqualTo("client_id");
    });
    assertThat(body.get("details")).anySatisfy(detail ->
        assertThat(detail.get("reason").asText()).isEqualTo("INVALID_ARGUMENT"));
  }

  @Test
  void aBodyThatIsNotTheRequestMessageIsABadRequestWithAReason() throws Exception {
    // Not a Push: "deltas" must be a list (a fault inside one delta is that delta's rejection: WebHostileInputIT).
    HttpResponse<String> response = post("/sync/push", token("writer", List.of("web-f")), """
        {"clientId": "w", "deltas": {"deltaId": "d", "operation": "OPERATION_SOMETHING"}}
        """);
    assertThat(response.statusCode()).isEqualTo(400);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("code").asInt()).isEqualTo(3);
    assertThat(body.get("message").asText()).contains("request body");
    assertThat(body.get("details")).anySatisfy(detail ->
        assertThat(detail.get("reason").asText()).isEqualTo("MALFORMED_MESSAGE"));
  }

  @Test
  void aMissingPermissionIsForbidden() throws Exception {
    String reader = Credentials.hs256(Credentials.claims("reader-g", List.of("reader"), List.of("web-g")).build());
    HttpResponse<String> response = post("/sync/push", reader, """
        {"clientId": "reader-g", "deltas": []}
        """);
    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(JSON.readTree(response.body()).get("details")).anySatisfy(detail ->
        assertThat(detail.get("reason").asText()).isEqualTo("PERMISSION_DENIED"));
  }
}

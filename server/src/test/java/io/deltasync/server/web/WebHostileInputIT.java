package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deltasync.server.WebConfig;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Review of the HTTP port: what a hostile or careless client sends to the REST paths and gRPC-Web must get a clear
 * 400 / INVALID_ARGUMENT JSON error with a reason (docs/http.md "Errors") and write nothing.
 */
class WebHostileInputIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path KEYS;

  static {
    try {
      KEYS = Credentials.publicKeyFile(Files.createTempDirectory("web-hostile"));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Credentials.tokenServer(KEYS))).withWeb(WebConfig.defaults().withPort(0)));

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private static String token() {
    return Credentials.hs256(Credentials.claims("hostile", List.of("admin"), List.of("h")).build());
  }

  private HttpResponse<String> post(String path, String contentType, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.server().httpPort().orElseThrow()
            + path)).timeout(Duration.ofSeconds(30)).header("content-type", contentType)
        .header("authorization", "Bearer " + token()).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String push(String entityId, String deltaExtra, String data) {
    return "{\"clientId\":\"hostile\",\"deltas\":[{\"deltaId\":\"" + UUID.randomUUID() + "\",\"entityType\":\"note\","
        + "\"entityId\":\"" + entityId + "\",\"scope\":\"h\",\"operation\":\"OPERATION_CREATE\"" + deltaExtra
        + ",\"data\":" + data + "}]}";
  }

  private static String nested(int depth) {
    return "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
  }

  private static long stored(String entityId) {
    return server.sql().fetchSingle("select count(*) from entity where entity_id = ?", entityId).get(0, Long.class);
  }

  /** docs/http.md: 400, JSON google.rpc.Status, ErrorInfo reason MALFORMED_MESSAGE. */
  private static void assertMalformedJsonError(HttpResponse<String> response) throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
    assertThat(response.headers().firstValue("content-type").orElse("")).as("content-type of " + response.body())
        .startsWith("application/json");
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("code").asInt()).isEqualTo(3);
    assertThat(body.get("details")).anySatisfy(d -> assertThat(d.get("reason").asText()).isEqualTo("MALFORMED_MESSAGE"));
  }

  @Test
  void aBodyThatIsNotJsonIsAJsonMalformedMessageError() throws Exception {
    assertMalformedJsonError(post("/sync/push", "application/json", "{{{".getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void aDocumentNested10000LevelsIsAJsonMalformedMessageErrorAndWritesNothing() throws Exception {
    HttpResponse<String> response = post("/sync/push", "application/json",
        push("deep-10000", "", nested(10_000)).getBytes(StandardCharsets.UTF_8));
    assertThat(stored("deep-10000")).isZero();
    assertMalformedJsonError(response);
  }

  @Test
  void aQueryParameterThatIsNotANumberIsAJsonMalformedMessageError() throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
        + server.server().httpPort().orElseThrow() + "/sync/conflicts?page_size=99999999999"))
        .header("authorization", "Bearer " + token()).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertMalformedJsonError(response);
  }

  @Test
  void anUnknownFieldInADeltaRejectsThatDeltaAndWritesNothingOfIt() throws Exception {
    // A typo of baseRowVersion: docs/http.md says the delta is rejected, never applied without its compare-and-set.
    HttpResponse<String> response = post("/sync/push", "application/json",
        push("typo", ",\"baseRowVersoin\":\"7\"", "{\"t\":1}").getBytes(StandardCharsets.UTF_8));
    assertThat(stored("typo")).as("written although the delta has an unknown field: " + response.body()).isZero();
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode result = JSON.readTree(response.body()).get("results").get(0);
    assertRejectedAsMalformed(result, "baseRowVersoin: ");
  }

  @Test
  void aBatchWithMalformedDeltasAppliesTheOthersAndRejectsEachBadOneAlone() throws Exception {
    String good = "{\"deltaId\":\"%s\",\"entityType\":\"note\",\"entityId\":\"%s\",\"scope\":\"h\","
        + "\"operation\":\"OPERATION_CREATE\",\"data\":{\"n\":1,\"s\":\"caf\u00e9 \\u00e9\",\"big\":9007199254740993.5e-1,\"e\":1.50}}";
    String ids = UUID.randomUUID().toString();
    String body = "{\"clientId\":\"hostile\",\"deltas\":["
        + good.formatted(ids + "-1", "salvage-1") + ","
        // an unknown enum name
        + "{\"deltaId\":\"" + ids + "-2\",\"entityType\":\"note\",\"entityId\":\"salvage-2\",\"scope\":\"h\","
        + "\"operation\":\"OPERATION_UPSERT\",\"data\":{}},"
        + good.formatted(ids + "-3", "salvage-3") + ","
        // a string where a number goes, and a delta that is not an object at all
        + "{\"deltaId\":\"" + ids + "-4\",\"entityType\":\"note\",\"entityId\":\"salvage-4\",\"scope\":\"h\","
        + "\"operation\":\"OPERATION_UPDATE\",\"baseRowVersion\":\"seven\",\"data\":{}},"
        + "\"not a delta\","
        + good.formatted(ids + "-6", "salvage-6") + "]}";
    HttpResponse<String> response = post("/sync/push", "application/json", body.getBytes(StandardCharsets.UTF_8));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode results = JSON.readTree(response.body()).get("results");
    assertThat(results).hasSize(6);
    for (int i : new int[] {0, 2, 5}) {
      assertThat(results.get(i).get("status").asText()).as(response.body()).isEqualTo("DELTA_STATUS_APPLIED");
    }
    assertRejectedAsMalformed(results.get(1), "OPERATION_UPSERT");
    assertThat(results.get(1).get("deltaId").asText()).isEqualTo(ids + "-2");
    assertRejectedAsMalformed(results.get(3), "baseRowVersion: ");
    assertRejectedAsMalformed(results.get(4), "Delta");
    assertThat(stored("salvage-1") + stored("salvage-3") + stored("salvage-6")).isEqualTo(3);
    assertThat(stored("salvage-2") + stored("salvage-4")).isZero();
    // The good deltas' documents exactly as the same delta alone (parsed whole, not salvaged) stores them.
    assertThat(post("/sync/push", "application/json", ("{\"clientId\":\"hostile\",\"deltas\":["
        + good.formatted(ids + "-7", "salvage-control") + "]}").getBytes(StandardCharsets.UTF_8)).statusCode())
        .isEqualTo(200);
    assertThat(server.sql().fetchSingle("select data::text from entity where entity_id = 'salvage-3'").get(0,
        String.class)).isEqualTo(server.sql().fetchSingle(
            "select data::text from entity where entity_id = 'salvage-control'").get(0, String.class));
  }

  @Test
  void aMalformedFieldOutsideTheDeltasStillRefusesTheWholeBody() throws Exception {
    String body = push("outside", "", "{}").replace("\"clientId\":\"hostile\"", "\"clientId\":7,\"clientIdd\":1");
    HttpResponse<String> response = post("/sync/push", "application/json", body.getBytes(StandardCharsets.UTF_8));
    assertThat(stored("outside")).isZero();
    assertMalformedJsonError(response);
  }

  private static void assertRejectedAsMalformed(JsonNode result, String named) {
    assertThat(result.get("status").asText()).as(result.toString()).isEqualTo("DELTA_STATUS_REJECTED");
    JsonNode error = result.get("error");
    assertThat(error.get("code").asInt()).as(result.toString()).isEqualTo(3);
    // As a delta the gRPC port cannot parse (docs/protocol.md): one field violation naming it, and why.
    assertThat(error.get("details")).as(result.toString())
        .anySatisfy(d -> assertThat(d.path("reason").asText()).isEqualTo("INVALID_ARGUMENT"))
        .anySatisfy(d -> {
          assertThat(d.path("fieldViolations")).hasSize(1);
          assertThat(d.path("fieldViolations").get(0).path("field").asText()).matches("deltas\\[\\d+\\]");
          assertThat(d.path("fieldViolations").get(0).path("description").asText()).contains(named);
        });
  }

  @Test
  void aNumberBeyondDoubleIsRefusedNotStoredAsTheStringInfinity() throws Exception {
    HttpResponse<String> response = post("/sync/push", "application/json",
        push("huge-number", "", "{\"n\":1e400}").getBytes(StandardCharsets.UTF_8));
    String data = server.sql().fetchOptional("select data::text from entity where entity_id = 'huge-number'")
        .map(r -> r.get(0, String.class)).orElse(null);
    assertThat(data).as("stored document (answer: " + response.body() + ")").isNull();
    assertThat(response.statusCode()).isEqualTo(400);
  }

  @Test
  void invalidUtf8IsRefusedNotReplacedAndStored() throws Exception {
    byte[] body = push("bad-utf8", "", "{\"t\":\"XX\"}").getBytes(StandardCharsets.UTF_8);
    int at = new String(body, StandardCharsets.ISO_8859_1).indexOf("XX");
    body[at] = (byte) 0xC3;  // a two-byte sequence cut short: 0xC3 then '('
    body[at + 1] = (byte) 0x28;
    HttpResponse<String> response = post("/sync/push", "application/json", body);
    String data = server.sql().fetchOptional("select data::text from entity where entity_id = 'bad-utf8'")
        .map(r -> r.get(0, String.class)).orElse(null);
    assertThat(data).as("stored document (answer: " + response.body() + ")").isNull();
    assertThat(response.statusCode()).isEqualTo(400);
  }

  @Test
  void aBodyAboveTheMessageLimitIsAJsonErrorWithAReasonNotATooManyRequests() throws Exception {
    String big = push("too-big", "", "{\"t\":\"" + "x".repeat(4 * 1024 * 1024 + 1000) + "\"}");
    HttpResponse<String> response = post("/sync/push", "application/json", big.getBytes(StandardCharsets.UTF_8));
    assertThat(stored("too-big")).isZero();
    // 429 tells clients "retry later": the same body will never fit.
    assertThat(response.statusCode()).as(response.body()).isNotEqualTo(429).isBetween(400, 499);
    assertThat(response.body()).doesNotContain("com.linecorp");
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("details")).as(response.body()).isNotNull()
        .anySatisfy(d -> assertThat(d.get("reason").asText()).isEqualTo("LIMIT_EXCEEDED"));
  }

  @Test
  void aDocumentOfTheDocumentedDepthIsAcceptedOverRestAsOverGrpc() throws Exception {
    // DELTASYNC data may nest 32 levels (Json.MAX_DEPTH); one level more is that delta's rejection, not the batch's.
    HttpResponse<String> ok = post("/sync/push", "application/json",
        push("depth-32", "", nested(32)).getBytes(StandardCharsets.UTF_8));
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
    assertThat(stored("depth-32")).isEqualTo(1);
  }

  @Test
  void aTooDeepDocumentIsThatDeltasRejectionOverRestAsOverGrpc() throws Exception {
    String body = "{\"clientId\":\"hostile\",\"deltas\":[{\"deltaId\":\"" + UUID.randomUUID()
        + "\",\"entityType\":\"note\",\"entityId\":\"fine-next-to-deep\",\"scope\":\"h\",\"operation\":\"OPERATION_CREATE\","
        + "\"data\":{\"t\":1}},{\"deltaId\":\"" + UUID.randomUUID() + "\",\"entityType\":\"note\",\"entityId\":\"depth-33\","
        + "\"scope\":\"h\",\"operation\":\"OPERATION_CREATE\",\"data\":" + nested(33) + "}]}";
    HttpResponse<String> response = post("/sync/push", "application/json", body.getBytes(StandardCharsets.UTF_8));
    // On the gRPC port (RequestParsing, DeltaValidator) the batch answers 200: the first delta applied, the second
    // rejected with a field violation about depth.
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(stored("fine-next-to-deep")).isEqualTo(1);
  }

  private static byte[] frame(byte[] message) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0);
    out.write(message.length >>> 24);
    out.write(message.length >>> 16);
    out.write(message.length >>> 8);
    out.write(message.length);
    out.writeBytes(message);
    return out.toByteArray();
  }

  @Test
  void aMalformedGrpcWebMessageCarriesTheReasonInItsTrailers() throws Exception {
    HttpResponse<String> response = post("/deltasync.v1.SyncService/Push", "application/grpc-web+json",
        frame(push("web-client", "", "{}").replace("\"clientId\":\"hostile\"", "\"clientId\":{}")
            .getBytes(StandardCharsets.UTF_8)));
    String all = response.headers().map() + " " + response.body();
    assertThat(all).contains("grpc-status=[3]");
    // docs/http.md: errors arrive in grpc-status, grpc-message and grpc-status-details-bin as on native gRPC.
    assertThat(all).as("grpc-message / details of " + all).contains("grpc-status-details-bin");
  }

  @Test
  void aDeltaWithAnUnknownEnumNameOverGrpcWebJsonIsThatDeltasRejection() throws Exception {
    HttpResponse<String> response = post("/deltasync.v1.SyncService/Push", "application/grpc-web+json",
        frame(push("web-enum", "", "{}").replace("OPERATION_CREATE", "OPERATION_NOPE").getBytes(StandardCharsets.UTF_8)));
    String all = response.headers().map() + " " + response.body();
    assertThat(all).contains("grpc-status: 0").contains("DELTA_STATUS_REJECTED").contains("OPERATION_NOPE")
        .contains("\"field\":\"deltas[0]\"");
    assertThat(stored("web-enum")).isZero();
  }

  @Test
  void oneUnparseableDeltaOverGrpcWebIsThatDeltasRejectionAsOnNativeGrpc() throws Exception {
    PushRequest request = PushRequest.newBuilder().setClientId("hostile")
        .addDeltas(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
            .setEntityId("web-good").setScope("h").setOperation(Operation.OPERATION_CREATE)
            .setData(com.google.protobuf.Struct.getDefaultInstance()))
        .addDeltas(Delta.newBuilder().setDeltaId("ZZ" + UUID.randomUUID()).setEntityType("note")
            .setEntityId("web-bad").setScope("h").setOperation(Operation.OPERATION_CREATE)).build();
    byte[] bytes = request.toByteArray();
    int at = new String(bytes, StandardCharsets.ISO_8859_1).indexOf("ZZ");
    bytes[at] = (byte) 0xC3;
    bytes[at + 1] = (byte) 0x28;
    HttpResponse<String> response = post("/deltasync.v1.SyncService/Push", "application/grpc-web+proto", frame(bytes));
    // RequestParsing (the gRPC port): the bad delta is rejected alone, the good one applied.
    assertThat(stored("web-good")).as(response.headers().map().toString()).isEqualTo(1);
  }

  /** Control (passes): the same bytes on the gRPC port; the bad delta is rejected alone, the good one applied. */
  @Test
  void controlOnNativeGrpcOneUnparseableDeltaIsThatDeltasRejection() throws Exception {
    PushRequest request = PushRequest.newBuilder().setClientId("hostile")
        .addDeltas(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
            .setEntityId("native-good").setScope("h").setOperation(Operation.OPERATION_CREATE)
            .setData(com.google.protobuf.Struct.getDefaultInstance()))
        .addDeltas(Delta.newBuilder().setDeltaId("ZZ" + UUID.randomUUID()).setEntityType("note")
            .setEntityId("native-bad").setScope("h").setOperation(Operation.OPERATION_CREATE)).build();
    byte[] bytes = request.toByteArray();
    int at = new String(bytes, StandardCharsets.ISO_8859_1).indexOf("ZZ");
    bytes[at] = (byte) 0xC3;
    bytes[at + 1] = (byte) 0x28;
    io.grpc.MethodDescriptor.Marshaller<byte[]> raw = new io.grpc.MethodDescriptor.Marshaller<>() {
      @Override
      public java.io.InputStream stream(byte[] value) {
        return new java.io.ByteArrayInputStream(value);
      }

      @Override
      public byte[] parse(java.io.InputStream stream) {
        try {
          return stream.readAllBytes();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    };
    var method = io.deltasync.v1.SyncServiceGrpc.getPushMethod().toBuilder(raw, raw).build();
    byte[] answer = io.grpc.stub.ClientCalls.blockingUnaryCall(Credentials.bearer(server.channel(), token()), method,
        io.grpc.CallOptions.DEFAULT.withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS), bytes);
    io.deltasync.v1.PushResponse parsed = io.deltasync.v1.PushResponse.parseFrom(answer);
    assertThat(stored("native-good")).as(parsed.toString()).isEqualTo(1);
    assertThat(parsed.getResults(1).getStatus()).isNotEqualTo(io.deltasync.v1.DeltaStatus.DELTA_STATUS_APPLIED);
  }

  /** Control (passes): on the gRPC port a 33-level document is that delta's rejection; the batch answers. */
  @Test
  void controlOnNativeGrpcATooDeepDocumentIsThatDeltasRejection() throws Exception {
    com.google.protobuf.Struct deep = com.google.protobuf.Struct.newBuilder()
        .putFields("a", com.google.protobuf.Value.newBuilder().setNumberValue(1).build()).build();
    for (int i = 1; i < 33; i++) {
      deep = com.google.protobuf.Struct.newBuilder()
          .putFields("a", com.google.protobuf.Value.newBuilder().setStructValue(deep).build()).build();
    }
    PushRequest request = PushRequest.newBuilder().setClientId("hostile")
        .addDeltas(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
            .setEntityId("native-fine").setScope("h").setOperation(Operation.OPERATION_CREATE)
            .setData(com.google.protobuf.Struct.getDefaultInstance()))
        .addDeltas(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
            .setEntityId("native-depth-33").setScope("h").setOperation(Operation.OPERATION_CREATE).setData(deep))
        .build();
    var response = io.deltasync.v1.SyncServiceGrpc.newBlockingStub(Credentials.bearer(server.channel(), token()))
        .withDeadlineAfter(30, java.util.concurrent.TimeUnit.SECONDS).push(request);
    assertThat(stored("native-fine")).as(response.toString()).isEqualTo(1);
    assertThat(stored("native-depth-33")).isZero();
  }
}

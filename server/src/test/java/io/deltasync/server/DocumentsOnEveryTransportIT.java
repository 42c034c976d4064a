package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.WireFormat;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.server.database.Database;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Entity;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.WatchChangesRequest;
import io.deltasync.v1.WatchChangesResponse;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Catch-up and initial-state pages carry their documents as wire bytes (store.DocumentWire): every way a client can
 * receive them (Sync and WatchChanges over gRPC, gRPC-Web JSON, gRPC JSON on the HTTP port, in-process) gets the
 * documents, plain-SQL documents arrive as Pull delivers them, and the raw bytes follow the schema's wire types (from
 * the review of the change).
 */
class DocumentsOnEveryTransportIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      config.withWeb(WebConfig.defaults().withPort(0)));

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private static Struct document() throws Exception {
    Struct.Builder doc = Struct.newBuilder();
    JsonFormat.parser().merge("{\"title\":\"hello\",\"n\":3,\"nested\":{\"list\":[1,\"two\",null,true]}}", doc);
    return doc.build();
  }

  private static Delta create(String scope, String id, Struct data) {
    return Deltas.create(id, data).toBuilder().setScope(scope).build();
  }

  // ---- 1. The console's JSON watch (gRPC-Web JSON): initial state and catch-up must carry the documents ----

  @Test
  void jsonWatchInitialStateCarriesTheDocument() throws Exception {
    Struct doc = document();
    server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("rv8json", "j1", doc))
        .build());
    Entity seen = jsonWatchEntity("console-1", "", "rv8json", "j1");
    assertThat(seen.hasData()).as("the JSON watch's initial state has the entity's data: %s", seen).isTrue();
    assertThat(seen.getData()).isEqualTo(doc);
  }

  @Test
  void jsonWatchCatchUpCarriesTheDocument() throws Exception {
    String cursor;
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("rv8-cursor", "", Subscription.newBuilder().addScopes("rv8json2").build());
      client.awaitLive();
      cursor = client.cursor();
    }
    Struct doc = document();
    server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("rv8json2", "j2", doc))
        .build());
    Entity seen = jsonWatchEntity("console-2", cursor, "rv8json2", "j2");
    assertThat(seen.hasData()).as("the JSON watch's catch-up has the entity's data: %s", seen).isTrue();
    assertThat(seen.getData()).isEqualTo(doc);
  }

  @Test
  void jsonWatchDeliversADocumentAtTheDepthLimit() throws Exception {
    // 32 levels of objects, a number at the bottom: the deepest document the server delivers (Json.MAX_DEPTH).
    server.sql().execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('rv8deep', 'note', 'x1', "
        + "?::jsonb)", nested(32));
    server.sql().execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('rv8deep', 'note', 'x2', "
        + "'{\"after\": true}'::jsonb)");
    PullResponse pulled = server.sync().pull(PullRequest.newBuilder().addScopes("rv8deep").build());
    assertThat(pulled.getChangesList()).allSatisfy(c -> assertThat(c.hasDegraded()).isFalse());
    Entity seen = jsonWatchEntity("console-deep", "", "rv8deep", "x1");
    assertThat(seen.getData()).as("a 32-level document over the JSON watch").isEqualTo(pulled.getChanges(0)
        .getEntity().getData());
    Entity after = jsonWatchEntity("console-deep2", "", "rv8deep", "x2");
    assertThat(after.getData().getFieldsMap()).containsKey("after");
  }

  private Entity jsonWatchEntity(String clientId, String cursor, String scope, String id) throws Exception {
    byte[] json = ("{\"clientId\":\"" + clientId + "\",\"cursor\":\"" + cursor + "\",\"subscriptions\":[{\"scopes\":[\""
        + scope + "\"]}]}").getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    frame.write(0);
    frame.write(new byte[] {(byte) (json.length >>> 24), (byte) (json.length >>> 16), (byte) (json.length >>> 8),
        (byte) json.length});
    frame.writeBytes(json);
    HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + server.server().httpPort().orElseThrow() + "/deltasync.v1.SyncService/WatchChanges"))
        .timeout(Duration.ofSeconds(60)).header("content-type", "application/grpc-web+json")
        .header("x-grpc-web", "1").POST(HttpRequest.BodyPublishers.ofByteArray(frame.toByteArray())).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    try (DataInputStream in = new DataInputStream(response.body())) {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        int flags = in.readUnsignedByte();
        byte[] body = in.readNBytes(in.readInt());
        String text = new String(body, StandardCharsets.UTF_8);
        if ((flags & 0x80) != 0) {
          throw new AssertionError("the watch ended: " + text);
        }
        WatchChangesResponse.Builder message = WatchChangesResponse.newBuilder();
        JsonFormat.parser().ignoringUnknownFields().merge(text, message);
        for (Change change : message.getEvent().getChanges().getChangesList()) {
          if (change.getEntity().getEntityId().equals(id)) {
            return change.getEntity();
          }
        }
      }
    }
    throw new AssertionError("no change of " + id);
  }

  @Test
  void grpcJsonSyncOnTheHttpPortCarriesTheDocument() throws Exception {
    Struct doc = document();
    server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("rv8gj", "g1", doc)).build());
    SyncServiceGrpc.SyncServiceStub stub = com.linecorp.armeria.client.grpc.GrpcClients.builder("http://127.0.0.1:"
            + server.server().httpPort().orElseThrow())
        .serializationFormat(com.linecorp.armeria.common.grpc.GrpcSerializationFormats.JSON)
        .responseTimeoutMillis(0).build(SyncServiceGrpc.SyncServiceStub.class);
    LinkedBlockingQueue<SyncResponse> received = new LinkedBlockingQueue<>();
    io.grpc.stub.StreamObserver<SyncRequest> requests = stub.sync(new io.grpc.stub.StreamObserver<>() {
      @Override
      public void onNext(SyncResponse value) {
        received.add(value);
      }

      @Override
      public void onError(Throwable t) {
        received.add(SyncResponse.getDefaultInstance());
      }

      @Override
      public void onCompleted() {}
    });
    requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId("rv8-gj")
        .addSubscriptions(Subscription.newBuilder().addScopes("rv8gj"))).build());
    Entity seen = null;
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (seen == null && System.nanoTime() < deadline) {
        SyncResponse message = received.poll(1, TimeUnit.SECONDS);
        if (message == null) {
          continue;
        }
        assertThat(message).as("the stream failed").isNotEqualTo(SyncResponse.getDefaultInstance());
        for (Change change : message.getChanges().getChangesList()) {
          seen = change.getEntity();
        }
      }
    } finally {
      requests.onCompleted();
    }
    assertThat(seen).isNotNull();
    assertThat(seen.getData()).as("Sync as application/grpc+json: %s", seen).isEqualTo(doc);
  }

  // ---- 2. Embedding with an in-process transport (DeltaSyncServer.start takes any ServerBuilder): WatchChanges ----

  @Test
  void inProcessWatchCarriesTheDocument() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
        .withDatabase(db.url(), db.user(), db.password());
    Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout()));
    String name = InProcessServerBuilder.generateName();
    try (DeltaSyncServer inProcess = DeltaSyncServer.start(config, database, InProcessServerBuilder.forName(name),
        Optional.empty())) {
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try {
        Struct doc = document();
        SyncServiceGrpc.newBlockingStub(channel).push(PushRequest.newBuilder().setClientId("writer")
            .addDeltas(create("rv8ip", "p1", doc)).build());
        // Control: the Sync stream (its marshaller sends bytes) delivers the document in process.
        try (StreamClient client = new StreamClient(channel)) {
          client.hello("ip-sync", "", Subscription.newBuilder().addScopes("rv8ip").build());
          client.awaitLive();
          assertThat(client.changes()).hasSize(1);
          assertThat(client.changes().get(0).getEntity().getData()).as("Sync in process").isEqualTo(doc);
        }
        Iterator<WatchChangesResponse> watch = SyncServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS).watchChanges(WatchChangesRequest.newBuilder()
                .setClientId("ip-watch").addSubscriptions(Subscription.newBuilder().addScopes("rv8ip")).build());
        Entity seen = null;
        while (seen == null && watch.hasNext()) {
          for (Change change : watch.next().getEvent().getChanges().getChangesList()) {
            seen = change.getEntity();
          }
        }
        assertThat(seen).isNotNull();
        assertThat(seen.getData()).as("WatchChanges in process: %s", seen).isEqualTo(doc);
      } finally {
        channel.shutdownNow();
      }
    }
  }

  // ---- 3. Plain-SQL documents over the real transport: stream (catch-up, initial state) vs Pull (tree path) ----

  private static final String SCOPE = "rv8sql";

  private static List<String> sqlDocuments() {
    List<String> docs = new ArrayList<>();
    docs.add("{\"big\": 9007199254740993, \"big2\": 9223372036854775808, \"big3\": 18446744073709551617, "
        + "\"e400\": 1e400, \"neg0\": -0, \"negz\": -0.0, \"one\": 1.0, \"int1\": 1, \"tenth\": 0.1, "
        + "\"exp\": 1.5E+300, \"small\": 1e-320, \"tiny\": 1e-400, \"neg\": -12345678901234567890.5, "
        + "\"ninf\": -1e400, \"e\": 1E2, \"frac\": 0.30000000000000004}");
    docs.add("{\"esc\": \"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\\/\", \"pair\": \"\\ud83d\\ude00 😀\", "
        + "\"bmp\": \"é中\\u00e9\", \"nul\": null, \"empty\": \"\", \"\": \"emptykey\", "
        + "\"nested\": {\"n\": null, \"a\": [null, [], {}, [[]], {\"\": {}}]}}");
    docs.add("{}");
    docs.add("{\"b\": 1, \"a\": 2, \"aa\": 3, \"é\": 4, \"z\": 5, \"B\": 6, \"ab\": 7, \"😀\": 8, \"\\u007f\": 9}");
    docs.add("{\"dup\": 1, \"dup\": 2, \"x\": {\"d\": [1], \"d\": {\"e\": true}}}");
    docs.add(nested(32));
    docs.add(nested(33));
    docs.add(nestedLists(32));
    docs.add(nestedLists(33));
    StringBuilder many = new StringBuilder("{\"many\": [");
    for (int i = 0; i < 20_000; i++) {
      many.append(i > 0 ? "," : "").append(i % 7 == 0 ? "1e" + (i % 300) : i % 3 == 0 ? "\"s" + i + "\"" : i);
    }
    docs.add(many.append("]}").toString());
    // Lengths of 3 bytes at every level (> 16 KB) and a 1.5 MB string five levels down.
    docs.add("{\"a\": {\"b\": [{\"c\": [\"" + "x".repeat(1_500_000) + "\"]}], \"k\": \"" + "é".repeat(20_000)
        + "\"}}");
    return docs;
  }

  private static String nested(int depth) {
    return "{\"k\": ".repeat(depth - 1) + "{\"leaf\": 1}" + "}".repeat(depth - 1);
  }

  private static String nestedLists(int depth) {
    return "{\"l\": " + "[".repeat(depth - 1) + "1" + "]".repeat(depth - 1) + "}";
  }

  private static String seedSqlRows() {
    var sql = server.sql();
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_conflict_data_is_object");
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_data_fits");
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_conflict_data_fits");
    List<String> docs = sqlDocuments();
    int i = 0;
    for (String doc : docs) {
      String id = String.format("d%03d", i++);
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES (?, 'note', ?, ?::jsonb)", SCOPE,
          id, doc);
    }
    // conflict_data: an object, an array, a string, a number, null (JSON), on live rows and on a tombstone.
    String[] conflicts = {"{\"c\": [1, 2.5, \"x\"]}", "[1, 2]", "\"str\"", "42", "null", "{}"};
    for (String conflict : conflicts) {
      String id = String.format("c%03d", i++);
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data, conflict_data) VALUES (?, 'note', ?, "
          + "'{\"v\": 1}', ?::jsonb)", SCOPE, id, conflict);
    }
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data, conflict_data) VALUES (?, 'note', 't1', "
        + "'{\"v\": 1}', '{\"c\": 1}')", SCOPE);
    sql.execute("UPDATE entity SET is_deleted = true, row_version = row_version + 1 WHERE scope = ? "
        + "AND entity_id = 't1'", SCOPE);
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES (?, 'note', 't2', "
        + "'{\"v\": 2}')", SCOPE);
    sql.execute("UPDATE entity SET is_deleted = true, row_version = row_version + 1 WHERE scope = ? "
        + "AND entity_id = 't2'", SCOPE);
    return "seeded";
  }

  @Test
  void plainSqlDocumentsReachTheStreamAsPullDeliversThem() throws Exception {
    String before;
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("rv8-before", "", Subscription.newBuilder().addScopes(SCOPE).build());
      client.awaitLive();
      before = client.cursor();
    }
    seedSqlRows();
    // Pull (the jOOQ tree path on both branches) from the same cursor.
    List<Change> pulled = new ArrayList<>();
    String cursor = before;
    while (true) {
      PullResponse page = server.sync().pull(PullRequest.newBuilder().setCursor(cursor).addScopes(SCOPE)
          .setPageSize(7).build());
      pulled.addAll(page.getChangesList());
      cursor = page.getNextCursor();
      if (!page.getHasMore()) {
        break;
      }
    }
    // Catch-up on the stream.
    List<Change> caughtUp = new ArrayList<>();
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("rv8-catchup", before, Subscription.newBuilder().addScopes(SCOPE).build());
      for (SyncChanges page : client.pagesUntilLive()) {
        caughtUp.addAll(page.getChangesList());
      }
    }
    assertThat(caughtUp).hasSameSizeAs(pulled);
    assertThat(pulled.stream().filter(Change::hasDegraded).count()).as("degraded by Pull").isPositive();
    List<String> differences = new ArrayList<>();
    for (int k = 0; k < pulled.size(); k++) {
      Change p = pulled.get(k).toBuilder().clearCursor().build();
      Change s = caughtUp.get(k).toBuilder().clearCursor().build();
      if (!p.equals(s)) {
        differences.add("change " + k + " " + p.getEntity().getEntityId() + ": pull " + shortText(p) + " stream "
            + shortText(s));
      }
      assertThat(caughtUp.get(k).getEntity().getUnknownFields().asMap()).as("unknown fields on the client").isEmpty();
    }
    assertThat(pulled.stream().filter(Change::hasDegraded).count()).as("degraded rows among those compared")
        .isPositive();
    assertThat(differences).as("catch-up vs Pull").isEmpty();

    // Initial state on the stream: each live entity as the last change Pull gave for it.
    Map<String, Change> lastPulled = new LinkedHashMap<>();
    for (Change change : pulled) {
      lastPulled.put(change.getEntity().getEntityId(), change);
    }
    List<Change> initial = new ArrayList<>();
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("rv8-initial", "", Subscription.newBuilder().addScopes(SCOPE).build());
      for (SyncChanges page : client.pagesUntilLive()) {
        if (page.getPhase() == SyncPhase.SYNC_PHASE_INITIAL_STATE) {
          initial.addAll(page.getChangesList());
        }
      }
    }
    assertThat(initial).hasSize((int) lastPulled.values().stream().filter(c -> !c.getEntity().getIsDeleted())
        .count());
    for (Change change : initial) {
      Change p = lastPulled.get(change.getEntity().getEntityId());
      assertThat(change.getEntity()).as("initial state of %s", change.getEntity().getEntityId())
          .isEqualTo(p.getEntity());
      assertThat(change.hasDegraded()).isEqualTo(p.hasDegraded());
      if (p.hasDegraded()) {
        assertThat(change.getDegraded()).isEqualTo(p.getDegraded());
      }
    }
  }

  private static String shortText(Change change) {
    String text = change.toString();
    return text.length() > 600 ? text.substring(0, 600) + "..." : text;
  }

  // ---- 4. A non-Java client: the raw bytes, walked field by field against the schema (wire types, no strays) ----

  @Test
  void rawCatchUpBytesHaveTheSchemasWireTypes() throws Exception {
    String before;
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("rv8-raw0", "", Subscription.newBuilder().addScopes("rv8raw").build());
      client.awaitLive();
      before = client.cursor();
    }
    Struct doc = document();
    server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("rv8raw", "r1", doc))
        .addDeltas(create("rv8raw", "r2", Struct.newBuilder().putFields("big", Value.newBuilder()
            .setStringValue("y".repeat(40_000)).build()).build())).build());
    MethodDescriptor<SyncRequest, byte[]> raw = MethodDescriptor.<SyncRequest, byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
        .setFullMethodName(SyncServiceGrpc.getSyncMethod().getFullMethodName())
        .setRequestMarshaller(SyncServiceGrpc.getSyncMethod().getRequestMarshaller())
        .setResponseMarshaller(io.deltasync.server.testing.Wire.RAW).build();
    LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    ClientCall<SyncRequest, byte[]> call = server.channel().newCall(raw, CallOptions.DEFAULT);
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(byte[] message) {
        received.add(message);
        call.request(1);
      }
    }, new Metadata());
    call.request(1);
    call.sendMessage(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId("rv8-raw")
        .setCursor(before).addSubscriptions(Subscription.newBuilder().addScopes("rv8raw"))).build());
    int entities = 0;
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (entities < 2 && System.nanoTime() < deadline) {
        byte[] bytes = received.poll(1, TimeUnit.SECONDS);
        if (bytes == null) {
          continue;
        }
        walk(bytes, SyncResponse.getDescriptor(), "SyncResponse");
        SyncResponse parsed = SyncResponse.parseFrom(bytes);
        for (Change change : parsed.getChanges().getChangesList()) {
          entities++;
          // Parsed by the generated parser, the data is the field itself.
          assertThat(change.getEntity().getUnknownFields().asMap()).isEmpty();
          assertThat(change.getEntity().hasData()).isTrue();
          // Re-serialized canonically it is the same message (wire order aside).
          assertThat(Change.parseFrom(change.toByteArray())).isEqualTo(change);
        }
      }
    } finally {
      call.cancel("done", null);
    }
    assertThat(entities).isEqualTo(2);
  }

  /** Every field of {@code bytes} is a field of {@code type} with its declared wire type, recursively. */
  private static void walk(byte[] bytes, Descriptors.Descriptor type, String path) throws Exception {
    com.google.protobuf.CodedInputStream in = com.google.protobuf.CodedInputStream.newInstance(bytes);
    while (!in.isAtEnd()) {
      int tag = in.readTag();
      int number = WireFormat.getTagFieldNumber(tag);
      int wireType = WireFormat.getTagWireType(tag);
      Descriptors.FieldDescriptor field = type.findFieldByNumber(number);
      assertThat(field).as("%s: field %d is in the schema", path, number).isNotNull();
      int expected = field.isPackable() && field.isPacked() && wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED
          ? WireFormat.WIRETYPE_LENGTH_DELIMITED : field.getLiteType().getWireType();
      assertThat(wireType).as("%s.%s wire type", path, field.getName()).isEqualTo(expected);
      switch (wireType) {
        case WireFormat.WIRETYPE_VARINT -> in.readRawVarint64();
        case WireFormat.WIRETYPE_FIXED64 -> in.readRawLittleEndian64();
        case WireFormat.WIRETYPE_FIXED32 -> in.readRawLittleEndian32();
        case WireFormat.WIRETYPE_LENGTH_DELIMITED -> {
          byte[] inner = in.readByteArray();
          if (field.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE) {
            walk(inner, field.getMessageType(), path + "." + field.getName());
          } else if (field.getJavaType() == Descriptors.FieldDescriptor.JavaType.STRING) {
            StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(inner));  // throws on invalid UTF-8
          }
        }
        default -> throw new AssertionError(path + ": wire type " + wireType);
      }
    }
  }
}

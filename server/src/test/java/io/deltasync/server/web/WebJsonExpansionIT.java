package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.WebConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Review of the HTTP port: a page the gRPC port serves (bounded by DELTASYNC_MAX_MESSAGE_BYTES in protobuf bytes)
 * must also be served as JSON, whose text can be several times larger (escaped characters).
 */
class WebJsonExpansionIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      config.withWeb(WebConfig.defaults().withPort(0)));

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @Test
  void aPullPageOfValidDocumentsIsServedAsJsonToo() throws Exception {
    // Each document: 40,000 U+0001 characters (40 KB in protobuf, 240 KB as JSON text "\\u0001").
    Struct doc = Struct.newBuilder().putFields("t", Value.newBuilder().setStringValue("\u0001".repeat(40_000))
        .build()).build();
    List<Delta> deltas = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      deltas.add(Deltas.create("exp-" + i, doc).toBuilder().setScope("exp").build());
    }
    var pushed = server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(deltas).build());
    assertThat(pushed.getResultsList()).allSatisfy(r ->
        assertThat(r.getStatus()).isEqualTo(io.deltasync.v1.DeltaStatus.DELTA_STATUS_APPLIED));
    // Control: the gRPC port serves the page.
    var page = server.sync().pull(PullRequest.newBuilder().addScopes("exp").build());
    assertThat(page.getChangesCount()).isEqualTo(25);

    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + server.server().httpPort().orElseThrow() + "/sync/pull")).timeout(Duration.ofSeconds(60))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"scopes\":[\"exp\"]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body().length() > 500 ? response.body().substring(0, 500)
        : response.body()).isEqualTo(200);
  }

  @Test
  void theConsolesJsonWatchGetsThatInitialStateToo() throws Exception {
    // Same documents as above, scope exp2; the console watches with application/grpc-web+json.
    Struct doc = Struct.newBuilder().putFields("t", Value.newBuilder().setStringValue("\u0001".repeat(40_000))
        .build()).build();
    List<Delta> deltas = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      deltas.add(Deltas.create("exp2-" + i, doc).toBuilder().setScope("exp2").build());
    }
    server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(deltas).build());
    byte[] json = "{\"clientId\":\"console-x\",\"subscriptions\":[{\"scopes\":[\"exp2\"]}]}"
        .getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    frame.write(0);
    frame.write(new byte[] {0, 0, 0, (byte) json.length});
    frame.writeBytes(json);
    HttpResponse<java.io.InputStream> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + server.server().httpPort().orElseThrow() + "/deltasync.v1.SyncService/WatchChanges"))
        .timeout(Duration.ofSeconds(60)).header("content-type", "application/grpc-web+json").header("x-grpc-web", "1")
        .POST(HttpRequest.BodyPublishers.ofByteArray(frame.toByteArray())).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    java.io.DataInputStream in = new java.io.DataInputStream(response.body());
    int changes = 0;
    String trailers = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (changes < 25 && trailers == null && System.nanoTime() < deadline) {
      int flags = in.readUnsignedByte();
      int length = in.readInt();
      byte[] body = in.readNBytes(length);
      String text = new String(body, StandardCharsets.UTF_8);
      if ((flags & 0x80) != 0) {
        trailers = text;
      } else {
        changes += text.split("\"entityId\"", -1).length - 1;
      }
    }
    response.body().close();
    assertThat(trailers).as("the watch ended before its initial state").isNull();
    assertThat(changes).isEqualTo(25);
  }
}

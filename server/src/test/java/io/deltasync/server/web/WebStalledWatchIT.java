package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.WebConfig;
import io.deltasync.server.stream.SyncSession;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.WatchChangesRequest;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Review of the HTTP port: a WatchChanges reader that never reads must be ended by the stall rule
 * (DELTASYNC_STREAM_STALL_SECONDS, docs/http.md "the same limits"), as a Sync stream is (StreamLimitsIT).
 */
class WebStalledWatchIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_STREAM_STALL_SECONDS", "3", "DELTASYNC_HEARTBEAT_SECONDS", "1",
              "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0")).withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword())
          .withWeb(WebConfig.defaults().withPort(0)));

  private static Optional<SyncSession.Stats> session(String clientId) {
    return server.server().sessions().stats().stream().filter(s -> s.clientId().endsWith(clientId)).findFirst();
  }

  @Test
  void aWatchThatReadsNothingIsEndedByTheStallRule() throws Exception {
    // About 60 MB of documents: far more than socket buffers hold.
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) select 'stall', 'note', "
        + "'n-' || lpad(i::text, 4, '0'), jsonb_build_object('pad', repeat(md5(i::text), 6000)) "
        + "from generate_series(1, 300) i");
    byte[] request = WatchChangesRequest.newBuilder().setClientId("stalled-browser")
        .addSubscriptions(Subscription.newBuilder().addScopes("stall")).build().toByteArray();
    ByteArrayOutputStream frame = new ByteArrayOutputStream();
    frame.write(0);
    frame.write(new byte[] {0, 0, 0, (byte) request.length});
    frame.writeBytes(request);
    try (Socket socket = new Socket("127.0.0.1", server.server().httpPort().orElseThrow())) {
      socket.setReceiveBufferSize(64 * 1024);
      OutputStream out = socket.getOutputStream();
      out.write(("POST /deltasync.v1.SyncService/WatchChanges HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\ncontent-length: " + frame.size()
          + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(frame.toByteArray());
      out.flush();
      // Never read. The session must be ended within the stall timeout (3 s) plus a few heartbeats.
      for (int i = 0; i < 100 && session("stalled-browser").isEmpty(); i++) {
        Thread.sleep(100);
      }
      assertThat(session("stalled-browser")).as("the watch's session opened").isPresent();
      for (int i = 0; i < 300 && session("stalled-browser").isPresent(); i++) {
        Thread.sleep(100);
      }
      assertThat(session("stalled-browser")).as("session of a reader that read nothing for 30 s").isEmpty();
    }
  }
}

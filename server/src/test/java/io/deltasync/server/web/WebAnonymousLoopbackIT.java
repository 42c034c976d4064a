package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.grpc.GrpcSerializationFormats;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.WebConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.WatchChangesRequest;
import io.deltasync.v1.WatchChangesResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review of the HTTP port with anonymous access (DELTASYNC_AUTH=none, loopback only by design). */
class WebAnonymousLoopbackIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_AUTH", "none", "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0")).withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword())
          .withWeb(WebConfig.defaults().withPort(0)));

  /**
   * "Anonymous access only on loopback" keeps the data local only if a web page cannot reach the port: any site
   * that rebinds its own name to 127.0.0.1 (DNS rebinding) is same-origin with it and needs no token. A Host header
   * that is not a loopback name must be refused.
   */
  @Test
  void aRequestForAForeignHostNameIsRefusedWhenAccessIsAnonymous() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.server().httpPort().orElseThrow())) {
      OutputStream out = socket.getOutputStream();
      String body = "{\"clientId\":\"rebound\",\"deltas\":[{\"deltaId\":\"6f1c1f5e-4b7e-4d3a-9d7e-1a2b3c4d5e6f\","
          + "\"entityType\":\"note\",\"entityId\":\"from-a-web-page\",\"scope\":\"s\",\"operation\":\"OPERATION_CREATE\","
          + "\"data\":{}}]}";
      out.write(("POST /sync/push HTTP/1.1\r\nHost: attacker.example:7421\r\nOrigin: http://attacker.example:7421\r\n"
          + "content-type: application/json\r\ncontent-length: " + body.length() + "\r\nconnection: close\r\n\r\n"
          + body).getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String answer = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertThat(server.sql().fetchSingle("select count(*) from entity where entity_id = 'from-a-web-page'")
          .get(0, Long.class)).as(answer).isZero();
    }
  }

  /** docs/http.md: WatchChanges lives as long as its token; Armeria's 10 s idle timeout must not end it. */
  @Test
  void aQuietWatchOutlivesTheIdleTimeout() throws Exception {
    CompletableFuture<Status> end = new CompletableFuture<>();
    CompletableFuture<Boolean> welcomed = new CompletableFuture<>();
    GrpcClients.builder("http://127.0.0.1:" + server.server().httpPort().orElseThrow())
        .serializationFormat(GrpcSerializationFormats.PROTO_WEB).responseTimeoutMillis(0)
        .build(SyncServiceGrpc.SyncServiceStub.class)
        .watchChanges(WatchChangesRequest.newBuilder().setClientId("quiet")
            .addSubscriptions(Subscription.newBuilder().addScopes("quiet")).build(), new StreamObserver<>() {
              @Override
              public void onNext(WatchChangesResponse value) {
                welcomed.complete(true);
              }

              @Override
              public void onError(Throwable t) {
                end.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                end.complete(Status.OK);
              }
            });
    assertThat(welcomed.get(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    // One and a half times the idle timeout: a watch it would end is ended by then.
    Thread.sleep(15_000);
    assertThat(end).as("ended: %s", end.getNow(null)).isNotDone();
  }
}

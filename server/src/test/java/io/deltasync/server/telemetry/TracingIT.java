package io.deltasync.server.telemetry;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.database.Database;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A server with tracing: a span per Push batch (unary and on the stream) with its stages, and one per Sync stream. */
class TracingIT {
  @Test
  void pushBatchesAndSyncSessionsAreSpans() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
        .withDatabase(db.url(), db.user(), db.password());
    Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout()));
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    String name = InProcessServerBuilder.generateName();
    try (DeltaSyncServer server = DeltaSyncServer.start(config, database, InProcessServerBuilder.forName(name),
        Optional.of(Tracing.exportingTo(exporter, "deltasync-test", SimpleSpanProcessor::create)))) {
      ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
      try {
        SyncServiceGrpc.newBlockingStub(channel).push(PushRequest.newBuilder().setClientId("unary-client")
            .addDeltas(create("t1", doc("v", "1"))).build());
        try (StreamClient client = new StreamClient(channel)) {
          client.hello("stream-client", "", Subscription.newBuilder().addScopes("team-a").build());
          client.awaitLive();
          client.push("b1", create("t2", doc("v", "1")));
          client.awaitResults("b1");
        }
        List<SpanData> sessions;
        do {  // the session's span ends when the server has closed the stream
          sessions = exporter.getFinishedSpanItems().stream().filter(s -> s.getName().equals("deltasync.sync"))
              .toList();
          Thread.sleep(10);
        } while (sessions.isEmpty());
        assertThat(sessions.getFirst().getAttributes().get(AttributeKey.stringKey("deltasync.client_id")))
            .isEqualTo("stream-client");
        assertThat(exporter.getFinishedSpanItems().stream().filter(s -> s.getName().equals("deltasync.push"))
            .map(s -> s.getAttributes().get(AttributeKey.stringKey("deltasync.transport")) + ":"
                + s.getAttributes().get(AttributeKey.stringKey("deltasync.client_id"))))
            .containsExactlyInAnyOrder("unary:unary-client", "stream:stream-client");
        // The stages of each push are its children: validation, the batch transaction, the delta's own write.
        for (SpanData push : exporter.getFinishedSpanItems().stream()
            .filter(s -> s.getName().equals("deltasync.push")).toList()) {
          assertThat(exporter.getFinishedSpanItems().stream()
              .filter(s -> s.getParentSpanId().equals(push.getSpanId())).map(SpanData::getName))
              .contains("deltasync.push.validate", "deltasync.push.transaction");
        }
        assertThat(exporter.getFinishedSpanItems()).extracting(SpanData::getName).contains("deltasync.push.delta");
      } finally {
        channel.shutdownNow();
      }
    }
  }
}

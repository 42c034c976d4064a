package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Subscription;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Two server processes' worth of nodes on one database form one service; shutdown sends clients elsewhere. */
class MultiNodeIT {
  private static ManagedChannel channel(DeltaSyncServer node) {
    return ManagedChannelBuilder.forAddress("127.0.0.1", node.port()).usePlaintext().build();
  }

  @Test
  void changesCrossBetweenNodesAndShutdownTellsClientsToReconnect() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of()).withPort(0)
        .withDatabase(database.url(), database.user(), database.password());
    DeltaSyncServer nodeA = DeltaSyncServer.start(config);
    DeltaSyncServer nodeB = DeltaSyncServer.start(config);
    ManagedChannel toA = channel(nodeA);
    ManagedChannel toB = channel(nodeB);
    Subscription shared = Subscription.newBuilder().addScopes("nodes").build();
    try (StreamClient onA = new StreamClient(toA);
        StreamClient onB = new StreamClient(toB)) {
      onA.hello("client-a", "", shared);
      onB.hello("client-b", "", shared);
      onA.awaitLive();
      onB.awaitLive();

      Delta viaA = create("via-a", doc("v", "a")).toBuilder().setScope("nodes").build();
      onA.push("p1", viaA);
      assertThat(onA.awaitResults("p1").getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(onB.awaitChanges(1).get(0).getEntity().getEntityId()).isEqualTo("via-a");

      Delta viaB = create("via-b", doc("v", "b")).toBuilder().setScope("nodes").build();
      onB.push("p2", viaB);
      // A's own change may reach it before its push result (then it is not suppressed: applying it again is a no-op
      // by row_version, docs/protocol.md), so look for B's change rather than at A's first one.
      onA.await(m -> m.hasChanges() && m.getChanges().getChangesList().stream()
          .anyMatch(c -> c.getEntity().getEntityId().equals("via-b")), "via-b on node A");

      String resumeFrom = onA.cursor();
      nodeA.close();
      Status ended = onA.awaitEnd();
      assertThat(ended.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(ended.getDescription()).contains("reconnect");

      // The client reconnects to the other node and resumes from its cursor: nothing lost, nothing repeated.
      Delta whileAway = create("while-away", doc("v", "c")).toBuilder().setScope("nodes").build();
      onB.push("p3", whileAway);
      onB.awaitResults("p3");
      try (StreamClient again = new StreamClient(toB)) {
        again.hello("client-a", resumeFrom, shared);
        again.awaitLive();
        assertThat(again.changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("while-away");
      }
    } finally {
      toA.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      toB.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      nodeA.close();
      nodeB.close();
    }
  }

  @Test
  void aSilentClientIsClosedAfterThreeHeartbeatIntervalsAndAChattyOneIsNot() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of()).withPort(0)
        .withDatabase(database.url(), database.user(), database.password())
        .withStream(new ServerConfig.Stream(Duration.ofSeconds(1), 1_000, Duration.ofMillis(100)));
    try (DeltaSyncServer node = DeltaSyncServer.start(config)) {
      ManagedChannel channel = channel(node);
      try (StreamClient silent = new StreamClient(channel);
          StreamClient chatty = new StreamClient(channel)) {
        silent.hello("silent", "");
        chatty.hello("chatty", "");
        chatty.awaitLive();
        silent.await(m -> m.hasHeartbeat(), "a server heartbeat");

        Thread heartbeats = Thread.ofVirtual().start(() -> {
          while (!Thread.currentThread().isInterrupted()) {
            chatty.send(io.deltasync.v1.SyncRequest.newBuilder().setHeartbeat(
                io.deltasync.v1.SyncHeartbeat.getDefaultInstance()).build());
            try {
              Thread.sleep(500);
            } catch (InterruptedException e) {
              return;
            }
          }
        });
        try {
          Status ended = silent.awaitEnd();
          assertThat(ended.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(ended.getDescription()).contains("three heartbeat intervals");
          chatty.assertOpen();
        } finally {
          heartbeats.interrupt();
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}

package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Without a NOTIFY in the write transaction, a commit still reaches live streams at once: the committing node wakes
 * its own reader in-process, and its coalesced NOTIFY wakes the other nodes. The feed's poll interval is set to a
 * minute here, so only those wake-ups can deliver within the wait.
 */
class CommitWakeUpIT {
  /** A subscriber that records the ids of the entities it is sent. */
  private static final class Watcher implements AutoCloseable {
    final Set<String> seen = ConcurrentHashMap.newKeySet();
    final CompletableFuture<Void> live = new CompletableFuture<>();
    final ManagedChannel channel;
    final StreamObserver<SyncRequest> requests;

    Watcher(DeltaSyncServer node, String clientId, String scope) throws Exception {
      channel = ManagedChannelBuilder.forAddress("127.0.0.1", node.port()).usePlaintext().build();
      requests = SyncServiceGrpc.newStub(channel).sync(new StreamObserver<>() {
        @Override
        public void onNext(SyncResponse value) {
          if (value.hasChanges()) {
            value.getChanges().getChangesList().forEach(c -> seen.add(c.getEntity().getEntityId()));
            if (value.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
              live.complete(null);
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          live.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {}
      });
      requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId)
          .addSubscriptions(Subscription.newBuilder().addScopes(scope))).build());
      live.get(60, TimeUnit.SECONDS);
    }

    boolean awaitSeen(String entityId, Duration within) throws InterruptedException {
      long deadline = System.nanoTime() + within.toNanos();
      while (!seen.contains(entityId) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      return seen.contains(entityId);
    }

    @Override
    public void close() throws InterruptedException {
      requests.onCompleted();
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCommittedBatchWakesTheLocalReaderAndTheOtherNodes() throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of()).withPort(0)
        .withDatabase(database.url(), database.user(), database.password())
        .withStream(new ServerConfig.Stream(Duration.ofSeconds(15), 1_000, Duration.ofSeconds(60)));
    try (DeltaSyncServer nodeA = DeltaSyncServer.start(config);
        DeltaSyncServer nodeB = DeltaSyncServer.start(config);
        Watcher onA = new Watcher(nodeA, "watcher-a", "wake");
        Watcher onB = new Watcher(nodeB, "watcher-b", "wake")) {
      ManagedChannel writer = ManagedChannelBuilder.forAddress("127.0.0.1", nodeA.port()).usePlaintext().build();
      try {
        var result = SyncServiceGrpc.newBlockingStub(writer).push(PushRequest.newBuilder().setClientId("writer")
            .addDeltas(create("woken", doc("v", "1")).toBuilder().setScope("wake")).build()).getResults(0);
        assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        // Well under the one-minute poll: only a wake-up delivers this soon (generous for a loaded machine).
        assertThat(onA.awaitSeen("woken", Duration.ofSeconds(20))).as("the committing node's stream").isTrue();
        assertThat(onB.awaitSeen("woken", Duration.ofSeconds(20))).as("the other node's stream").isTrue();
      } finally {
        writer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}

package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.SyncWelcome;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client acknowledges a batch's cursor only once the batch and the cursor are committed to its local store: at
 * each ack the stand-in server opens the client's SQLite file on its own connection and finds the cursor and the
 * batch's entities already there. An ack sent before the commit would let the server forget changes a crash loses.
 */
class AckAfterApplyTest {
  @TempDir
  Path dir;

  /** What the stand-in found in the client's file when an ack arrived. */
  record Seen(String acked, String storedCursor, int entities) {}

  private static final class Feeding extends SyncServiceGrpc.SyncServiceImplBase {
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final Path file;

    Feeding(Path file) {
      this.file = file;
    }

    @Override
    public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responses) {
      return new StreamObserver<>() {
        @Override
        public void onNext(SyncRequest request) {
          if (request.hasHello()) {
            responses.onNext(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder()
                .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setSeconds(3600))).build());
            for (int batch = 1; batch <= 3; batch++) {
              SyncChanges.Builder changes = SyncChanges.newBuilder().setPhase(SyncPhase.SYNC_PHASE_INITIAL_STATE)
                  .setCursor("cursor-" + batch);
              for (int i = 0; i < 4; i++) {
                changes.addChanges(Change.newBuilder().setOperation(Operation.OPERATION_CREATE)
                    .setEntity(Entity.newBuilder().setScope("s").setEntityType("inspection")
                        .setEntityId(batch + "-" + i).setRowVersion(1)));
              }
              responses.onNext(SyncResponse.newBuilder().setChanges(changes).build());
            }
            responses.onNext(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder()
                .setPhase(SyncPhase.SYNC_PHASE_LIVE)).build());
          } else if (request.hasAck()) {
            seen.add(inFile(request.getAck().getCursor()));
          }
        }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() {
          responses.onCompleted();
        }
      };
    }

    private Seen inFile(String acked) {
      try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath())) {
        String cursor;
        try (ResultSet r = c.createStatement().executeQuery("select value from setting where name = 'cursor'")) {
          cursor = r.next() ? r.getString(1) : null;
        }
        try (ResultSet r = c.createStatement().executeQuery("select count(*) from entity")) {
          r.next();
          return new Seen(acked, cursor, r.getInt(1));
        }
      } catch (java.sql.SQLException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  @Test
  void eachAckFollowsTheCommitOfItsBatchAndCursor() throws Exception {
    Path file = dir.resolve("ack.db");
    Feeding service = new Feeding(file);
    String name = "feeding-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    try (SqliteLocalStore store = SqliteLocalStore.open(file);
        SyncClient client = SyncClient.builder().channel(channel).store(store).build()) {
      client.start();
      await("three acks", () -> service.seen.size() == 3);
      assertThat(service.seen).containsExactly(new Seen("cursor-1", "cursor-1", 4), new Seen("cursor-2", "cursor-2", 8),
          new Seen("cursor-3", "cursor-3", 12));
      await("live", () -> client.state().phase() == SyncState.Phase.LIVE);
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}

package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.UnknownFieldSet;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncPushResults;
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
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server that answers what this SDK cannot read (a result status it does not know, a result for a delta it never
 * sent, no result at all for another, a message of a kind it does not know, a phase it does not know) must not stop
 * the sync loop, end the stream, or cost a write. An in-process stand-in plays the hostile server.
 */
class HostileServerTest {
  @TempDir
  Path dir;

  /** The first push gets nonsense; later pushes get honest results. */
  private static final class Hostile extends SyncServiceGrpc.SyncServiceImplBase {
    final List<SyncPush> pushes = new CopyOnWriteArrayList<>();
    final AtomicInteger hellos = new AtomicInteger();

    @Override
    public StreamObserver<SyncRequest> sync(StreamObserver<SyncResponse> responses) {
      return new StreamObserver<>() {
        @Override
        public void onNext(SyncRequest request) {
          if (request.hasHello()) {
            hellos.incrementAndGet();
            responses.onNext(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder()
                .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder().setSeconds(3600))).build());
            // A message kind from a newer server (an unknown field of the oneof's message) and an unknown phase.
            responses.onNext(SyncResponse.newBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(999, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build());
            responses.onNext(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder().setPhaseValue(77)
                .addChanges(Change.newBuilder().setEntity(entity("s", "seen", 1)))).build());
            responses.onNext(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder()
                .setPhase(SyncPhase.SYNC_PHASE_LIVE)).build());
          } else if (request.hasPush()) {
            pushes.add(request.getPush());
            SyncPushResults.Builder results = SyncPushResults.newBuilder().setBatchId(request.getPush().getBatchId());
            List<Delta> deltas = request.getPush().getDeltasList();
            if (pushes.size() == 1) {
              results.addResults(DeltaResult.newBuilder().setDeltaId("never-sent")
                  .setStatus(DeltaStatus.DELTA_STATUS_APPLIED).setEntity(entity("s", "stranger", 1)));
              results.addResults(DeltaResult.newBuilder().setDeltaId(deltas.get(0).getDeltaId()).setStatusValue(42)
                  .setEntity(entity("s", deltas.get(0).getEntityId(), 1)));
              // deltas.get(1) gets no result at all.
            } else {
              for (Delta delta : deltas) {
                results.addResults(DeltaResult.newBuilder().setDeltaId(delta.getDeltaId())
                    .setStatus(DeltaStatus.DELTA_STATUS_APPLIED).setEntity(entity("s", delta.getEntityId(), 1)
                        .toBuilder().setData(delta.getData())));
              }
            }
            responses.onNext(SyncResponse.newBuilder().setPushResults(results).build());
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

    private static Entity entity(String scope, String id, long version) {
      return Entity.newBuilder().setScope(scope).setEntityType("inspection").setEntityId(id).setRowVersion(version)
          .build();
    }
  }

  @Test
  void nonsenseFromTheServerNeitherStopsTheLoopNorCostsAWrite() throws Exception {
    Hostile service = new Hostile();
    String name = "hostile-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    RecordingScheduler scheduler = new RecordingScheduler();
    ManualClock clock = new ManualClock();
    List<Object> heard = new CopyOnWriteArrayList<>();
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("h.db"));
        SyncClient client = SyncClient.builder().channel(channel).store(store).scheduler(scheduler).clock(clock)
            .listener(new SyncListener() {
              @Override
              public void onRejected(Delta delta, DeltaResult result) {
                heard.add(result);
              }

              @Override
              public void onConflict(Delta delta, DeltaResult result) {
                heard.add(result);
              }
            }).build()) {
      client.create("inspection", "s", "x", doc("v", "x"));
      client.create("inspection", "s", "y", doc("v", "y"));
      client.start();
      await("the first push answered", () -> service.pushes.size() == 1 && client.outbox().stream()
          .allMatch(e -> e.attempts() == 1));
      List<String> sent = service.pushes.get(0).getDeltasList().stream().map(Delta::getDeltaId).toList();
      assertThat(client.outbox()).extracting(OutboxEntry::deltaId).containsExactlyElementsOf(sent);
      assertThat(client.state().phase()).isEqualTo(SyncState.Phase.LIVE);
      assertThat(client.get(new EntityKey("s", "inspection", "stranger"))).isEmpty();
      assertThat(client.get(new EntityKey("s", "inspection", "seen"))).isPresent();

      // Both go again, with the same ids, on the same stream, when their backoff ends.
      RecordingScheduler.Task retry = scheduler.next(t -> t.delay().compareTo(Duration.ofHours(1)) < 0);
      clock.advance(Duration.ofMinutes(1));
      retry.run().run();
      await("both applied", () -> client.pendingCount() == 0);
      assertThat(service.pushes.get(service.pushes.size() - 1).getDeltasList()).extracting(Delta::getDeltaId)
          .containsExactlyInAnyOrderElementsOf(sent);
      assertThat(service.hellos.get()).isEqualTo(1);
      assertThat(heard).isEmpty();
      assertThat(client.get(new EntityKey("s", "inspection", "x")).orElseThrow().serverVersion()).isEqualTo(1);
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}

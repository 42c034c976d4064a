package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A slow reader is not a stalled one: a client on a slow link that takes one message at a time, each within the
 * stall timeout, gets its whole initial state, however long that takes in all.
 */
class SlowReaderIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_STREAM_STALL_SECONDS", "3", "DELTASYNC_HEARTBEAT_SECONDS", "1",
              "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0")).withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  @Test
  void aClientReadingOneMessageAtATimeIsNotClosedAsStalled() throws Exception {
    // 10 documents of about 192 KB: the first page goes out as several messages below the page budget each.
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) select 'slow', 'note', "
        + "'n-' || lpad(i::text, 4, '0'), jsonb_build_object('pad', repeat(md5(i::text), 6000)) "
        + "from generate_series(1, 10) i");
    CompletableFuture<Status> ended = new CompletableFuture<>();
    AtomicBoolean live = new AtomicBoolean();
    CompletableFuture<ClientCallStreamObserver<SyncRequest>> call = new CompletableFuture<>();
    SyncServiceGrpc.newStub(server.channel()).sync(new ClientResponseObserver<SyncRequest, SyncResponse>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<SyncRequest> requests) {
        requests.disableAutoRequestWithInitial(1);
        call.complete(requests);
      }

      @Override
      public void onNext(SyncResponse response) {
        if (response.hasChanges() && response.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
          live.set(true);
        }
      }

      @Override
      public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        ended.complete(Status.OK);
      }
    });
    ClientCallStreamObserver<SyncRequest> requests = call.join();
    requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId("slow-phone")
        .addSubscriptions(Subscription.newBuilder().addScopes("slow"))).build());
    // One message every second (within the 3 s stall timeout), whatever the whole initial state takes.
    int taken = 0;
    for (; taken < 60 && !live.get() && !ended.isDone(); taken++) {
      Thread.sleep(1_000);
      requests.request(1);
      requests.onNext(SyncRequest.newBuilder().setHeartbeat(SyncHeartbeat.getDefaultInstance()).build());
    }
    assertThat(ended).as("the stream ended: %s", ended.isDone() ? ended.join() : "").isNotDone();
    assertThat(live).as("reached live delivery").isTrue();
    // The whole took longer than the stall timeout, so the timeout was measured per message, not per stream.
    assertThat(taken).as("messages taken one by one, a second apart").isGreaterThan(4);
    requests.cancel("done", null);
  }
}

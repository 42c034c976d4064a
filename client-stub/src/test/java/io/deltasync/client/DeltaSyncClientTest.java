package io.deltasync.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.Code;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client's retry loop against a scripted in-process service (the database is not involved here: the
 * server-side behaviour is tested on the real database in the server module).
 */
class DeltaSyncClientTest {
  private final List<Duration> sleeps = new ArrayList<>();
  private final List<PushRequest> received = new ArrayList<>();
  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  private DeltaSyncClient clientAgainst(SyncServiceGrpc.SyncServiceImplBase service) throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(service).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    return DeltaSyncClient.create(channel, "phone-1", RetryPolicy.defaults(), Duration.ofSeconds(5), sleeps::add,
        new SplittableRandom(7));
  }

  private static Delta delta(String id) {
    return Delta.newBuilder().setDeltaId(id).build();
  }

  @Test
  void retriesUnavailableCallsWithJitteredBackoffThenSucceeds() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    DeltaSyncClient client = clientAgainst(new SyncServiceGrpc.SyncServiceImplBase() {
      @Override
      public void push(PushRequest request, StreamObserver<PushResponse> response) {
        received.add(request);
        if (calls.incrementAndGet() <= 3) {
          response.onError(Status.UNAVAILABLE.withDescription("down").asRuntimeException());
          return;
        }
        response.onNext(PushResponse.newBuilder().addResults(DeltaResult.newBuilder().setDeltaId("d1")
            .setStatus(DeltaStatus.DELTA_STATUS_APPLIED)).build());
        response.onCompleted();
      }
    });

    PushResponse response = client.push(List.of(delta("d1")));

    assertThat(response.getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(received).hasSize(4).allSatisfy(r -> assertThat(r.getDeltas(0).getDeltaId()).isEqualTo("d1"));
    assertThat(sleeps).hasSize(3);
    for (int i = 0; i < sleeps.size(); i++) {
      assertThat(sleeps.get(i)).isBetween(Duration.ZERO, RetryPolicy.defaults().cap(i + 1));
    }
  }

  @Test
  void doesNotRetryErrorsThatWillNotGoAway() throws Exception {
    DeltaSyncClient client = clientAgainst(new SyncServiceGrpc.SyncServiceImplBase() {
      @Override
      public void push(PushRequest request, StreamObserver<PushResponse> response) {
        received.add(request);
        response.onError(Status.INVALID_ARGUMENT.withDescription("bad").asRuntimeException());
      }
    });

    assertThatThrownBy(() -> client.push(List.of(delta("d1"))))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    assertThat(received).hasSize(1);
    assertThat(sleeps).isEmpty();
  }

  @Test
  void givesUpAfterMaxRetries() throws Exception {
    DeltaSyncClient client = clientAgainst(new SyncServiceGrpc.SyncServiceImplBase() {
      @Override
      public void push(PushRequest request, StreamObserver<PushResponse> response) {
        received.add(request);
        response.onError(Status.UNAVAILABLE.asRuntimeException());
      }
    });

    assertThatThrownBy(() -> client.push(List.of(delta("d1")))).isInstanceOf(StatusRuntimeException.class);
    assertThat(received).hasSize(1 + RetryPolicy.defaults().maxRetries());
  }

  @Test
  void resendsOnlyTheDeltasTheServerCouldNotApplyWithTheirOriginalIds() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    DeltaSyncClient client = clientAgainst(new SyncServiceGrpc.SyncServiceImplBase() {
      @Override
      public void push(PushRequest request, StreamObserver<PushResponse> response) {
        received.add(request);
        PushResponse.Builder out = PushResponse.newBuilder();
        for (Delta delta : request.getDeltasList()) {
          boolean down = calls.get() == 0 && !delta.getDeltaId().equals("a");
          // "b": the server's database was down; "c": the batch's results reached the message size limit.
          int code = delta.getDeltaId().equals("b") ? Code.UNAVAILABLE_VALUE : Code.RESOURCE_EXHAUSTED_VALUE;
          out.addResults(down
              ? DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
                  .setError(com.google.rpc.Status.newBuilder().setCode(code))
              : DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_APPLIED));
        }
        calls.incrementAndGet();
        response.onNext(out.build());
        response.onCompleted();
      }
    });

    PushResponse response = client.push(List.of(delta("a"), delta("b"), delta("c")));

    assertThat(response.getResultsList()).extracting(DeltaResult::getDeltaId).containsExactly("a", "b", "c");
    assertThat(response.getResultsList()).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(received).hasSize(2);
    assertThat(received.get(1).getDeltasList()).extracting(Delta::getDeltaId).containsExactly("b", "c");
    assertThat(sleeps).hasSize(1);
  }
}

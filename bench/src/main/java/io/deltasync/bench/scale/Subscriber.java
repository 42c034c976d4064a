package io.deltasync.bench.scale;

import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import java.util.BitSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.HdrHistogram.Histogram;

/**
 * One Sync stream of the load client: says hello, answers heartbeats, and records what arrives: how many changes
 * in each phase, when it went live, and for live changes of a fan-out round the latency from the moment the writer
 * sent the push (its entity id is the push's sequence number) to receipt, and which sequence numbers it has seen.
 * gRPC calls one stream's observer one message at a time, so the recording needs no lock.
 */
final class Subscriber {
  private final ClientCallStreamObserver<SyncRequest> requests;
  private final AtomicLongArray sentAtNanos;
  private final long startNanos = System.nanoTime();
  final CompletableFuture<Long> live = new CompletableFuture<>();
  final CompletableFuture<Long> stateComplete = new CompletableFuture<>();
  final CompletableFuture<Status> ended = new CompletableFuture<>();
  final Histogram latencyMicros = new Histogram(60_000_000L, 3);
  final BitSet seen = new BitSet();
  final AtomicLong stateChanges = new AtomicLong();
  final AtomicLong catchUpChanges = new AtomicLong();
  final AtomicLong liveChanges = new AtomicLong();
  // Live messages that carried changes: fewer per change means the server coalesced them.
  final AtomicLong liveMessages = new AtomicLong();
  volatile long lastReceiptNanos;
  volatile long duplicates;
  // The worst latency of each sequence number over the round's subscribers (FanOut's trace), or null.
  volatile AtomicLongArray worstMicros;

  /**
   * Opens a stream on {@code channel}.
   *
   * @param sentAtNanos when the writer sent each sequence number (null: no latency is recorded)
   * @param reading false for a stalled consumer: it reads the welcome and then nothing more
   */
  Subscriber(Channel channel, String clientId, String cursor, String scope, AtomicLongArray sentAtNanos,
      boolean reading) {
    this.sentAtNanos = sentAtNanos;
    CompletableFuture<ClientCallStreamObserver<SyncRequest>> call = new CompletableFuture<>();
    // Responses are read lean (LeanResponses): the ids it checks, not the documents.
    ClientCalls.asyncBidiStreamingCall(channel.newCall(LeanResponses.SYNC, CallOptions.DEFAULT),
        new ClientResponseObserver<SyncRequest, LeanResponses.Received>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<SyncRequest> stream) {
        if (!reading) {
          stream.disableAutoRequestWithInitial(1);
        }
        call.complete(stream);
      }

      @Override
      public void onNext(LeanResponses.Received message) {
        receive(message);
      }

      @Override
      public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
        live.completeExceptionally(t);
        stateComplete.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        ended.complete(Status.OK);
        live.completeExceptionally(new IllegalStateException("stream completed"));
      }
    });
    this.requests = call.join();
    send(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId).setCursor(cursor)
        .addSubscriptions(Subscription.newBuilder().addScopes(scope))).build());
  }

  private synchronized void receive(LeanResponses.Received page) {
    long now = System.nanoTime();
    if (page.kind() == LeanResponses.Kind.HEARTBEAT) {
      send(SyncRequest.newBuilder().setHeartbeat(SyncHeartbeat.getDefaultInstance()).build());
      return;
    }
    if (page.kind() != LeanResponses.Kind.CHANGES) {
      return;
    }
    switch (page.phase()) {
      case SYNC_PHASE_INITIAL_STATE -> {
        stateChanges.addAndGet(page.changeCount());
        if (page.hasCursor()) {
          stateComplete.complete(now - startNanos);
        }
      }
      case SYNC_PHASE_CATCH_UP -> catchUpChanges.addAndGet(page.changeCount());
      case SYNC_PHASE_LIVE -> {
        live.complete(now - startNanos);
        liveChanges.addAndGet(page.changeCount());
        if (page.changeCount() > 0) {
          liveMessages.incrementAndGet();
        }
        if (sentAtNanos != null) {
          for (String entityId : page.entityIds()) {
            int seq = Integer.parseInt(entityId);
            if (seen.get(seq)) {
              duplicates++;
            } else {
              seen.set(seq);
              long micros = Math.max(0, (now - sentAtNanos.get(seq)) / 1_000);
              latencyMicros.recordValue(micros);
              AtomicLongArray worst = worstMicros;
              if (worst != null) {
                worst.accumulateAndGet(seq, micros, Math::max);
              }
            }
          }
        }
      }
      default -> { }
    }
    lastReceiptNanos = now;
  }

  /** Nanoseconds from the hello until the stream went live. */
  long liveAfterNanos() {
    return live.join();
  }

  private synchronized void send(SyncRequest request) {
    if (!ended.isDone()) {
      requests.onNext(request);
    }
  }

  /** Ends the stream from the client's side. */
  void cancel() {
    if (!ended.isDone()) {
      requests.cancel("benchmark done", null);
    }
  }
}

package io.deltasync.server.stream;

import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.WatchChangesRequest;
import io.deltasync.v1.WatchChangesResponse;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A WatchChanges call: a {@link SyncSession} whose client never speaks. The request becomes the session's hello, and
 * while the session waits for the next client message this stream stands in for the client with a heartbeat once
 * per heartbeat interval, so the session's "three silent intervals" rule never ends a watch whose reader is alive.
 * Everything else (cursor, scopes, flow control, the credential's expiry) is the session's own.
 *
 * <p>Why not a second delivery path for browsers: cursors, catch-up, the fall back from live delivery and the end of
 * an expired credential exist once, in the session; a copy would drift.
 */
final class WatchStream extends ServerCallStreamObserver<SyncResponse> {
  private final ServerCallStreamObserver<WatchChangesResponse> out;
  private final AtomicInteger requested = new AtomicInteger();
  private final AtomicBoolean ended = new AtomicBoolean();
  private volatile StreamObserver<SyncRequest> session;
  private volatile ScheduledFuture<?> heartbeats;
  private volatile Runnable onCancel = () -> { };

  private WatchStream(ServerCallStreamObserver<WatchChangesResponse> out) {
    this.out = out;
  }

  /** Opens a session for the watch through {@code open} and sends it the hello the request stands for. */
  static void start(WatchChangesRequest request, StreamObserver<WatchChangesResponse> responses,
      java.util.function.Function<ServerCallStreamObserver<SyncResponse>, StreamObserver<SyncRequest>> open,
      ScheduledExecutorService timer, Duration heartbeatInterval) {
    WatchStream watch = new WatchStream((ServerCallStreamObserver<WatchChangesResponse>) responses);
    watch.out.setOnCancelHandler(watch::cancelled);
    watch.session = open.apply(watch);
    long period = heartbeatInterval.toMillis();
    watch.heartbeats = timer.scheduleAtFixedRate(watch::standInForClient, period, period, TimeUnit.MILLISECONDS);
    watch.deliver(SyncRequest.newBuilder().setHello(SyncHello.newBuilder()
        .setClientId(request.getClientId())
        .setCursor(request.getCursor())
        .addAllSubscriptions(request.getSubscriptionsList())).build());
  }

  /** Sends the session a message only when it asked for one, as a gRPC stream would. */
  private void deliver(SyncRequest message) {
    if (requested.getAndUpdate(n -> n > 0 ? n - 1 : n) > 0) {
      session.onNext(message);
    }
  }

  private void standInForClient() {
    deliver(SyncRequest.newBuilder().setHeartbeat(SyncHeartbeat.getDefaultInstance()).build());
  }

  private void cancelled() {
    stopHeartbeats();
    onCancel.run();
  }

  private void stopHeartbeats() {
    ScheduledFuture<?> timer = heartbeats;
    if (timer != null) {
      timer.cancel(false);
    }
  }

  @Override
  public void onNext(SyncResponse value) {
    if (ended.get()) {
      return;
    }
    if (value.hasError()) {
      // On Sync, an error about a client message leaves the stream open for the client to correct it. The only
      // client message of a watch is its request (the hello): nothing can follow, so the call ends with it.
      if (ended.compareAndSet(false, true)) {
        stopHeartbeats();
        out.onError(StatusProto.toStatusRuntimeException(value.getError().getStatus()));
        // Not here: onNext runs inside the session's outbound drain, under its lock, and ending the session leaves
        // the live feed, whose lock is taken before a session's (SyncSession.close). The lock is reentrant, so
        // closing from here would take the feed's lock while holding the session's: a deadlock with a delivery.
        StreamObserver<SyncRequest> ending = session;
        Thread.ofVirtual().name("watch-end").start(() -> ending.onError(
            Status.CANCELLED.withDescription("the watch's request was refused").asRuntimeException()));
      }
      return;
    }
    out.onNext(WatchChangesResponse.newBuilder().setEvent(value).build());
  }

  @Override
  public void onError(Throwable t) {
    stopHeartbeats();
    if (ended.compareAndSet(false, true)) {
      out.onError(t);
    }
  }

  @Override
  public void onCompleted() {
    stopHeartbeats();
    if (ended.compareAndSet(false, true)) {
      out.onCompleted();
    }
  }

  @Override
  public boolean isCancelled() {
    return out.isCancelled();
  }

  @Override
  public void setOnCancelHandler(Runnable onCancelHandler) {
    this.onCancel = onCancelHandler;
  }

  @Override
  public void setCompression(String compression) {
    out.setCompression(compression);
  }

  @Override
  public boolean isReady() {
    return out.isReady();
  }

  @Override
  public void setOnReadyHandler(Runnable onReadyHandler) {
    out.setOnReadyHandler(onReadyHandler);
  }

  @Override
  public void request(int count) {
    requested.addAndGet(count);
  }

  @Override
  public void setMessageCompression(boolean enable) {
    out.setMessageCompression(enable);
  }

  @Override
  @SuppressWarnings("deprecation")
  public void disableAutoInboundFlowControl() {
    // The client sends nothing; the session's requests are counted above.
  }

  @Override
  public void disableAutoRequest() {
    // As above.
  }
}

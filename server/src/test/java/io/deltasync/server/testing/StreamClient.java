package io.deltasync.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncAck;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncPushResults;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A test client of the Sync stream: records every message, and plays the client's part of the protocol the way
 * docs/protocol.md describes it. With {@code reading = false} it requests no messages from the server until
 * {@link #startReading()} (a client that stopped reading).
 */
public final class StreamClient implements AutoCloseable {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private final LinkedBlockingQueue<SyncResponse> received = new LinkedBlockingQueue<>();
  private final CompletableFuture<Status> ended = new CompletableFuture<>();
  private final List<Change> changes = new ArrayList<>();
  private final ClientCallStreamObserver<SyncRequest> requests;
  private String cursor = "";
  private boolean live;

  /** Opens a stream that reads normally. */
  public StreamClient(Channel channel) {
    this(channel, true);
  }

  /** Opens a stream; {@code reading = false} leaves every server message unrequested. */
  @SuppressWarnings("unchecked")
  public StreamClient(Channel channel, boolean reading) {
    CompletableFuture<ClientCallStreamObserver<SyncRequest>> call = new CompletableFuture<>();
    SyncServiceGrpc.newStub(channel).sync(new ClientResponseObserver<SyncRequest, SyncResponse>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<SyncRequest> requestStream) {
        if (!reading) {
          requestStream.disableAutoRequestWithInitial(0);
        }
        call.complete(requestStream);
      }

      @Override
      public void onNext(SyncResponse value) {
        received.add(value);
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
    this.requests = call.join();
  }

  /** Starts requesting every message (for a client created with {@code reading = false}). */
  public void startReading() {
    requests.request(Integer.MAX_VALUE);
  }

  /** Sends a raw message. */
  public synchronized void send(SyncRequest request) {
    requests.onNext(request);
  }

  /** Sends a hello. */
  public void hello(String clientId, String fromCursor, Subscription... subscriptions) {
    cursor = fromCursor;
    send(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId).setCursor(fromCursor)
        .addAllSubscriptions(List.of(subscriptions))).build());
  }

  /** Sends a push. */
  public void push(String batchId, Delta... deltas) {
    send(SyncRequest.newBuilder().setPush(SyncPush.newBuilder().setBatchId(batchId)
        .addAllDeltas(List.of(deltas))).build());
  }

  /** Acknowledges the cursor reached so far. */
  public void ackReached() {
    send(SyncRequest.newBuilder().setAck(SyncAck.newBuilder().setCursor(cursor)).build());
  }

  /** The next message that matches, skipping (but recording changes of) others. */
  public SyncResponse await(Predicate<SyncResponse> wanted, String what) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      SyncResponse next;
      try {
        next = received.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      if (next == null) {
        throw new AssertionError("waited " + WAIT.toSeconds() + " s for " + what + "; stream ended: "
            + (ended.isDone() ? ended.join() : "no"));
      }
      record(next);
      if (wanted.test(next)) {
        return next;
      }
    }
  }

  private void record(SyncResponse message) {
    if (message.hasChanges()) {
      SyncChanges batch = message.getChanges();
      changes.addAll(batch.getChangesList());
      if (!batch.getCursor().isEmpty()) {
        cursor = batch.getCursor();
      }
      if (batch.getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
        live = true;
      }
    }
  }

  /** Waits for the switch to live delivery (after initial state and catch-up). */
  public void awaitLive() {
    if (!live) {
      await(m -> m.hasChanges() && m.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE, "live phase");
    }
  }

  /** Waits for the results of a push. */
  public SyncPushResults awaitResults(String batchId) {
    return await(m -> m.hasPushResults() && m.getPushResults().getBatchId().equals(batchId),
        "results of " + batchId).getPushResults();
  }

  /** Waits until at least {@code count} changes have been received in all. */
  public List<Change> awaitChanges(int count) {
    while (changes.size() < count) {
      await(SyncResponse::hasChanges, count + " changes (have " + changes.size() + ")");
    }
    return List.copyOf(changes);
  }

  /** Every change received so far. */
  public List<Change> changes() {
    return List.copyOf(changes);
  }

  /** The last cursor the server sent with changes. */
  public String cursor() {
    return cursor;
  }

  /** Messages already received and not yet looked at (recording changes among them). */
  public List<SyncResponse> drainReceived() {
    List<SyncResponse> drained = new ArrayList<>();
    received.drainTo(drained);
    drained.forEach(this::record);
    return drained;
  }

  /** Waits for the server to end the stream. */
  public Status awaitEnd() {
    try {
      return ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("the server did not end the stream", e);
    }
  }

  /** Every changes message until the stream is live (the live switch included). */
  public List<SyncChanges> pagesUntilLive() {
    List<SyncChanges> pages = new ArrayList<>();
    while (true) {
      SyncResponse message = await(SyncResponse::hasChanges, "a page");
      pages.add(message.getChanges());
      if (message.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
        return pages;
      }
    }
  }

  /** The entity ids of {@code pages}' changes, in order. */
  public static List<String> entityIds(List<SyncChanges> pages) {
    return pages.stream().flatMap(p -> p.getChangesList().stream()).map(c -> c.getEntity().getEntityId()).toList();
  }

  /** Whether the server ended the stream. */
  public boolean hasEnded() {
    return ended.isDone();
  }

  /** Asserts the stream is still open. */
  public void assertOpen() {
    assertThat(ended).as("stream ended: %s", ended.isDone() ? ended.join() : "").isNotDone();
  }

  @Override
  public void close() {
    if (!ended.isDone()) {
      requests.cancel("test done", null);
    }
  }
}

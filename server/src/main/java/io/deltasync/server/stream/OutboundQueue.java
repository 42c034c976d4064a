package io.deltasync.server.stream;

import io.deltasync.server.store.Position;
import io.deltasync.server.telemetry.SyncTelemetry;
import io.deltasync.v1.SyncResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * The only writer to one stream's response observer (grpc-java's observers are not thread-safe): what the session
 * has to say waits here, bounded by the session, and goes out only while the transport is ready, re-checked before
 * every message because spurious ready callbacks happen.
 *
 * <p>Not thread-safe on its own: every method runs under the owning session's lock, which also guards the protocol
 * state the session keeps beside it. {@code onProgress} runs (under that lock) whenever something went out, so that
 * the session's waiters can look again.
 */
final class OutboundQueue {
  /** A queued message; change batches carry the frontier the client reaches once it has them. */
  record Outgoing(SyncResponse message, int changeCount, Position frontier) {
    boolean isChanges() {
      return message.hasChanges();
    }

    long bytes() {
      return changeCount == 0 ? 0 : message.getSerializedSize();
    }
  }

  private final ServerCallStreamObserver<SyncResponse> out;
  private final Runnable onProgress;
  private final ArrayDeque<Outgoing> queue = new ArrayDeque<>();
  private boolean closed;
  private boolean paused;
  private int changes;
  private long bytes;
  private int mostChanges;
  private long mostBytes;
  private int mostMessages;
  private long blockedSinceNanos;
  private Position sent;
  private final SyncTelemetry telemetry;

  OutboundQueue(ServerCallStreamObserver<SyncResponse> out, Runnable onProgress, SyncTelemetry telemetry) {
    this.out = out;
    this.onProgress = onProgress;
    this.telemetry = telemetry;
  }

  /** Queues a message at the end and sends what the transport takes. */
  void add(Outgoing outgoing) {
    if (closed) {
      return;
    }
    queue.add(outgoing);
    changes += outgoing.changeCount();
    bytes += outgoing.bytes();
    mostChanges = Math.max(mostChanges, changes);
    mostBytes = Math.max(mostBytes, bytes);
    mostMessages = Math.max(mostMessages, queue.size());
    drain();
  }

  /** Queues a control message ahead of everything (a checksum must precede any later change). */
  void addFirst(SyncResponse message) {
    if (!closed) {
      queue.addFirst(new Outgoing(message, 0, null));
    }
  }

  /** While paused, change batches wait (control messages still go out). */
  void pause(boolean pause) {
    this.paused = pause;
    if (!pause) {
      drain();
    }
  }

  boolean isPaused() {
    return paused;
  }

  /** Sends while the transport is ready. */
  void drain() {
    boolean wentOut = false;
    while (!closed && !queue.isEmpty() && out.isReady()) {
      if (paused && queue.peek().isChanges()) {
        break;
      }
      Outgoing next = queue.poll();
      changes -= next.changeCount();
      bytes -= next.bytes();
      out.onNext(next.message());
      telemetry.sent(next.message());
      wentOut = true;
      if (next.frontier() != null) {
        sent = next.frontier();
      }
    }
    // A client that stopped reading (it may still answer pings): how long nothing went out although something
    // waited. A slow reader that takes a message now and then is not stalled.
    if (queue.isEmpty() || out.isReady()) {
      blockedSinceNanos = 0;
    } else if (wentOut || blockedSinceNanos == 0) {
      blockedSinceNanos = System.nanoTime();
    }
    onProgress.run();
  }

  /** Forgets every queued change batch (the session will read them again from the log); control messages stay. */
  void dropChanges() {
    for (Iterator<Outgoing> it = queue.iterator(); it.hasNext(); ) {
      if (it.next().isChanges()) {
        it.remove();
      }
    }
    changes = 0;
    bytes = 0;
  }

  /** Rewrites every queued change batch with {@code rewrite} (a credential narrowed: its lost scopes' changes go). */
  void rewriteChanges(java.util.function.UnaryOperator<Outgoing> rewrite) {
    ArrayDeque<Outgoing> rewritten = new ArrayDeque<>();
    changes = 0;
    bytes = 0;
    for (Outgoing outgoing : queue) {
      Outgoing next = outgoing.isChanges() ? rewrite.apply(outgoing) : outgoing;
      changes += next.changeCount();
      bytes += next.bytes();
      rewritten.add(next);
    }
    queue.clear();
    queue.addAll(rewritten);
  }

  /**
   * Ends the stream: with {@code status} OK it completes, with another it fails after the queued control messages
   * (push results, errors) went out; with null (the client went away) nothing more is sent. Queued changes are
   * dropped: the client resumes from its cursor.
   */
  void close(Status status) {
    close(status, null);
  }

  /** As {@link #close(Status)}, with trailers (an ErrorInfo) for a failing status. */
  void close(Status status, io.grpc.Metadata trailers) {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (status != null) {
        for (Outgoing outgoing : queue) {
          if (!outgoing.isChanges()) {
            out.onNext(outgoing.message());
          }
        }
      }
      if (status != null && status.isOk()) {
        out.onCompleted();
      } else if (status != null) {
        out.onError(trailers == null ? status.asRuntimeException() : status.asRuntimeException(trailers));
      }
    } catch (IllegalStateException alreadyClosed) {
      // the call was cancelled concurrently: nothing to tell
    }
    queue.clear();
    changes = 0;
    bytes = 0;
    onProgress.run();
  }

  boolean isReady() {
    return out.isReady();
  }

  boolean isEmpty() {
    return queue.isEmpty();
  }

  /** How many queued messages are not change batches (answers the client waits for). */
  int controlMessages() {
    int count = 0;
    for (Outgoing outgoing : queue) {
      count += outgoing.isChanges() ? 0 : 1;
    }
    return count;
  }

  boolean hasChangeBatches() {
    for (Outgoing outgoing : queue) {
      if (outgoing.isChanges()) {
        return true;
      }
    }
    return false;
  }

  int changes() {
    return changes;
  }

  long bytes() {
    return bytes;
  }

  int mostChanges() {
    return mostChanges;
  }

  long mostBytes() {
    return mostBytes;
  }

  int mostMessages() {
    return mostMessages;
  }

  /** The frontier of the last change batch that went out. */
  Position sent() {
    return sent;
  }

  /** Sets where the client stands before anything was sent (its resume cursor). */
  void sentUpTo(Position position) {
    sent = position;
  }

  /** Whether what is queued has been held up by a transport that is not ready for longer than {@code nanos}. */
  boolean blockedLongerThan(long nanos) {
    return blockedSinceNanos != 0 && System.nanoTime() - blockedSinceNanos > nanos;
  }
}

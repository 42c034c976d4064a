package io.deltasync.reliability;

import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Everything the clients sent and heard, as it crossed the wire: recorded by a {@link ClientInterceptor} on each
 * client's channel, so the history is what the server really said, independent of the SDK's own bookkeeping.
 * Each Sync call is one session.
 */
final class History {
  /** One recorded event, in the order the recorder saw it (per session the order of the wire). */
  sealed interface Event permits Pushed, Answered, Delivered, Operation {}

  /** A delta the client sent. */
  record Pushed(String client, long session, Delta delta) implements Event {}

  /** A result the server sent for a delta. */
  record Answered(String client, long session, DeltaResult result) implements Event {}

  /** A change the server delivered on a session. */
  record Delivered(String client, long session, Change change, io.deltasync.v1.SyncPhase phase) implements Event {}

  /** An operation the app made on its local copy (before it was pushed). */
  record Operation(String client, String what) implements Event {}

  private final ConcurrentLinkedQueue<Event> events = new ConcurrentLinkedQueue<>();
  private final AtomicLong sessions = new AtomicLong();

  void operation(String client, String what) {
    events.add(new Operation(client, what));
  }

  List<Event> events() {
    return List.copyOf(events);
  }

  /** The interceptor that records one client's Sync streams (other calls pass through unrecorded). */
  ClientInterceptor recorder(String client) {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        if (!method.getFullMethodName().equals(SyncServiceGrpc.getSyncMethod().getFullMethodName())) {
          return next.newCall(method, options);
        }
        long session = sessions.incrementAndGet();
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
          @Override
          public void sendMessage(Q message) {
            if (message instanceof SyncRequest request && request.hasPush()) {
              request.getPush().getDeltasList().forEach(d -> events.add(new Pushed(client, session, d)));
            }
            super.sendMessage(message);
          }

          @Override
          public void start(Listener<R> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onMessage(R message) {
                if (message instanceof SyncResponse response) {
                  if (response.hasPushResults()) {
                    response.getPushResults().getResultsList().forEach(r -> events.add(new Answered(client,
                        session, r)));
                  } else if (response.hasChanges()) {
                    SyncChanges changes = response.getChanges();
                    changes.getChangesList().forEach(c -> events.add(new Delivered(client, session, c,
                        changes.getPhase())));
                  }
                }
                super.onMessage(message);
              }
            }, headers);
          }
        };
      }
    };
  }
}

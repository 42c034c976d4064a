package io.deltasync.reliability;

import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes an app stop reading its Sync stream, the way a phone that stops reading does: while paused, the gRPC
 * message requests of its Sync calls (new ones too, if it reconnects) are held back, so nothing more is taken from
 * the transport, HTTP/2 flow control fills the window, and the server sees a stream that is not ready. What it sends
 * (pushes, heartbeats) still goes out. {@link #resume()} hands the held requests on.
 */
final class ReadGate implements ClientInterceptor {
  private final List<Gated<?, ?>> calls = new ArrayList<>();
  private boolean paused;

  synchronized void pause() {
    paused = true;
  }

  void resume() {
    List<Gated<?, ?>> held;
    synchronized (this) {
      paused = false;
      held = List.copyOf(calls);
      calls.clear();
    }
    held.forEach(Gated::release);
  }

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    ClientCall<Q, R> call = next.newCall(method, options);
    if (!method.getFullMethodName().equals(SyncServiceGrpc.getSyncMethod().getFullMethodName())) {
      return call;
    }
    return new Gated<>(call);
  }

  private final class Gated<Q, R> extends ForwardingClientCall.SimpleForwardingClientCall<Q, R> {
    private int held;

    Gated(ClientCall<Q, R> call) {
      super(call);
    }

    @Override
    public void request(int n) {
      synchronized (ReadGate.this) {
        if (paused) {
          held += n;
          calls.add(this);
          return;
        }
      }
      super.request(n);
    }

    void release() {
      int n;
      synchronized (ReadGate.this) {
        n = held;
        held = 0;
      }
      if (n > 0) {
        super.request(n);
      }
    }
  }
}

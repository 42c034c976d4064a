package io.deltasync.server.rpc;

import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/** Answers a unary call from a computation, routing every failure through {@link StatusMapper}. */
final class UnaryCalls {
  private UnaryCalls() {}

  static <T> void answer(String method, StreamObserver<T> responseObserver, Supplier<T> work) {
    T response;
    try {
      response = work.get();
    } catch (RuntimeException e) {
      responseObserver.onError(StatusMapper.toStatusException(e, method));
      return;
    }
    responseObserver.onNext(response);
    responseObserver.onCompleted();
  }
}

package io.deltasync.reliability;

import com.google.rpc.ErrorInfo;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Unary pushes of one valid create each, sent one after the other during a fault, and the health service: every
 * answer is recorded as "CODE/REASON" (the call's status, or each delta's per-delta status), with the slowest
 * answer printed, never asserted. The deadline is a guard against a hang: an answer that is DEADLINE_EXCEEDED means
 * the server left the call waiting.
 */
final class Probes implements AutoCloseable {
  private final ManagedChannel channel;
  private final FuzzInputs inputs;
  private final List<String> answers = new CopyOnWriteArrayList<>();
  private long slowestNanos;
  private int sent;

  Probes(int port, long seed, String clientId) {
    this.channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    this.inputs = new FuzzInputs(seed, clientId);
  }

  /** Sends one push, records its answer(s) and returns them. */
  List<String> probe() {
    long asked = System.nanoTime();
    List<String> these = new java.util.ArrayList<>();
    try {
      PushResponse response = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS)
          .push(inputs.validPush());
      for (var result : response.getResultsList()) {
        boolean settled = result.getStatus() == io.deltasync.v1.DeltaStatus.DELTA_STATUS_APPLIED
            || result.getStatus() == io.deltasync.v1.DeltaStatus.DELTA_STATUS_CONFLICT;
        these.add(settled ? result.getStatus().name()
            : Status.fromCodeValue(result.getError().getCode()).getCode() + "/" + reason(result.getError()));
      }
    } catch (StatusRuntimeException e) {
      these.add(e.getStatus().getCode() + "/" + reason(StatusProto.fromThrowable(e)));
    }
    answers.addAll(these);
    synchronized (this) {
      sent++;
      slowestNanos = Math.max(slowestNanos, System.nanoTime() - asked);
    }
    return these;
  }

  /** Probes until {@code seconds} have passed (pausing between probes); returns how many were sent. */
  int probeFor(int seconds) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    int before = sent;
    while (System.nanoTime() < end) {
      probe();
      Thread.sleep(250);
    }
    return sent - before;
  }

  private static String reason(com.google.rpc.Status status) {
    if (status == null) {
      return "no details";
    }
    return status.getDetailsList().stream().filter(a -> a.is(ErrorInfo.class)).map(a -> {
      try {
        return a.unpack(ErrorInfo.class).getReason();
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        return "unparsable ErrorInfo";
      }
    }).findFirst().orElse("no ErrorInfo");
  }

  /** The answers so far, then forgets them. */
  List<String> drain() {
    List<String> copy = List.copyOf(answers);
    answers.clear();
    return copy;
  }

  synchronized long slowestMillis() {
    return TimeUnit.NANOSECONDS.toMillis(slowestNanos);
  }

  ServingStatus health() {
    try {
      return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    } catch (StatusRuntimeException e) {
      return ServingStatus.UNKNOWN;
    }
  }

  static Map<String, Integer> summarize(List<String> answers) {
    Map<String, Integer> counts = new TreeMap<>();
    answers.forEach(a -> counts.merge(a, 1, Integer::sum));
    return counts;
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}

package io.deltasync.client;

import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.random.RandomGenerator;

/**
 * A thin blocking client: Push and Pull with retries. Retrying a push is safe because every delta carries its
 * own id and the server answers a retried id with the first result instead of applying it again.
 */
public final class DeltaSyncClient {
  /** Status codes worth retrying: the same request may succeed later. */
  private static final Set<Status.Code> RETRYABLE = Set.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
      Status.Code.RESOURCE_EXHAUSTED, Status.Code.ABORTED);

  /** How the client waits between attempts; tests substitute one that records instead of sleeping. */
  @FunctionalInterface
  public interface Sleeper {
    /** Waits for {@code duration}. */
    void sleep(Duration duration) throws InterruptedException;
  }

  private final SyncServiceGrpc.SyncServiceBlockingStub stub;
  private final String clientId;
  private final RetryPolicy retryPolicy;
  private final Duration callTimeout;
  private final Sleeper sleeper;
  private final RandomGenerator random;

  private DeltaSyncClient(Channel channel, String clientId, RetryPolicy retryPolicy, Duration callTimeout,
      Sleeper sleeper, RandomGenerator random) {
    this.stub = SyncServiceGrpc.newBlockingStub(Objects.requireNonNull(channel, "channel"));
    this.clientId = Objects.requireNonNull(clientId, "clientId");
    this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
    this.callTimeout = Objects.requireNonNull(callTimeout, "callTimeout");
    this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
    this.random = Objects.requireNonNull(random, "random");
  }

  /** A client with the default retry policy and a 30-second timeout per attempt. */
  public static DeltaSyncClient create(Channel channel, String clientId) {
    return create(channel, clientId, RetryPolicy.defaults());
  }

  /** A client with the given retry policy. */
  public static DeltaSyncClient create(Channel channel, String clientId, RetryPolicy retryPolicy) {
    return create(channel, clientId, retryPolicy, Duration.ofSeconds(30),
        duration -> TimeUnit.NANOSECONDS.sleep(duration.toNanos()), ThreadLocalRandom.current());
  }

  /** A client with every collaborator given (tests). */
  public static DeltaSyncClient create(Channel channel, String clientId, RetryPolicy retryPolicy,
      Duration callTimeout, Sleeper sleeper, RandomGenerator random) {
    return new DeltaSyncClient(channel, clientId, retryPolicy, callTimeout, sleeper, random);
  }

  /** A fresh delta id (a random UUID). Keep it with the delta: a retry must send the same one. */
  public static String newDeltaId() {
    return UUID.randomUUID().toString();
  }

  /**
   * Pushes the deltas and returns one result per delta, in order. Failed calls with a retryable status are
   * retried; so are deltas the server rejected as retryable (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED), by
   * sending them again with the same ids. Gives up after the policy's retries and returns the last results, or throws the
   * last error if no call succeeded.
   */
  public PushResponse push(List<Delta> deltas) throws InterruptedException {
    RetryBudget budget = new RetryBudget();
    List<DeltaResult> results = new ArrayList<>(call(() -> pushOnce(deltas), budget).getResultsList());
    while (true) {
      List<Integer> again = new ArrayList<>();
      for (int i = 0; i < results.size(); i++) {
        if (isUnavailable(results.get(i))) {
          again.add(i);
        }
      }
      if (again.isEmpty() || !budget.canRetry()) {
        return PushResponse.newBuilder().addAllResults(results).build();
      }
      budget.sleepBeforeRetry();
      List<Delta> resend = again.stream().map(deltas::get).toList();
      List<DeltaResult> retried = call(() -> pushOnce(resend), budget).getResultsList();
      for (int j = 0; j < again.size(); j++) {
        results.set(again.get(j), retried.get(j));
      }
    }
  }

  /** Pulls one page of changes, retrying retryable failures. */
  public PullResponse pull(PullRequest request) throws InterruptedException {
    return call(() -> stub.withDeadlineAfter(callTimeout.toNanos(), TimeUnit.NANOSECONDS).pull(request),
        new RetryBudget());
  }

  private PushResponse pushOnce(List<Delta> deltas) {
    return stub.withDeadlineAfter(callTimeout.toNanos(), TimeUnit.NANOSECONDS).push(request(deltas));
  }

  private PushRequest request(List<Delta> deltas) {
    return PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build();
  }

  /**
   * A delta the server did not apply but asks to be sent again: its database was unavailable (UNAVAILABLE), the
   * results of the batch reached the message size limit before it (RESOURCE_EXHAUSTED), or the entity kept
   * changing while its conflict was resolved (ABORTED). None of these is recorded against the delta_id.
   */
  private static boolean isUnavailable(DeltaResult result) {
    if (result.getStatus() != DeltaStatus.DELTA_STATUS_REJECTED) {
      return false;
    }
    int code = result.getError().getCode();
    return code == Status.Code.UNAVAILABLE.value() || code == Status.Code.RESOURCE_EXHAUSTED.value()
        || code == Status.Code.ABORTED.value();
  }

  /** Runs one call, retrying retryable failures while the budget lasts. */
  private <T> T call(Supplier<T> attempt, RetryBudget budget) throws InterruptedException {
    while (true) {
      try {
        return attempt.get();
      } catch (StatusRuntimeException e) {
        if (!RETRYABLE.contains(e.getStatus().getCode()) || !budget.canRetry()) {
          throw e;
        }
        budget.sleepBeforeRetry();
      }
    }
  }

  /** The retries of one operation, shared by call failures and per-delta UNAVAILABLE results. */
  private final class RetryBudget {
    private int used;

    boolean canRetry() {
      return used < retryPolicy.maxRetries();
    }

    void sleepBeforeRetry() throws InterruptedException {
      used++;
      sleeper.sleep(retryPolicy.delay(used, random));
    }
  }
}

package io.deltasync.sdk;

import io.deltasync.client.RetryPolicy;
import java.util.List;
import java.util.Map;

/**
 * gRPC's own retry policy for the SDK's unary calls (ResolveConflict, and Push, Pull, ListConflicts, GetStatus for
 * apps that call them through the stubs), as a service config the app gives its channel — the SDK takes the
 * app's channel (Netty on the JVM, OkHttp on Android) and never builds one:
 *
 * <pre>{@code
 * ManagedChannel channel = ManagedChannelBuilder.forAddress(host, port)
 *     .defaultServiceConfig(Channels.retryServiceConfig(RetryPolicy.defaults()))
 *     .enableRetry()
 *     .build();
 * }</pre>
 *
 * <p>Retried: UNAVAILABLE (the server or the network is gone for a moment) and RESOURCE_EXHAUSTED (the server is
 * busy: SERVER_BUSY), with gRPC's exponential backoff and jitter. Every one of these calls is safe to repeat: a Push
 * is idempotent by delta_id, a resolution that did land is answered CONFLICT_ALREADY_RESOLVED, the others only read.
 * The Sync stream is not covered: the SDK reconnects it itself, resuming from its cursor.
 */
public final class Channels {
  private static final String SERVICE = "deltasync.v1.SyncService";
  // gRPC caps a retry policy at five attempts unless the channel raises its own limit (maxRetryAttempts).
  private static final int GRPC_MAX_ATTEMPTS = 5;

  private Channels() {}

  /** The service config for {@code ManagedChannelBuilder.defaultServiceConfig}, from the SDK's retry policy. */
  public static Map<String, Object> retryServiceConfig(RetryPolicy policy) {
    if (policy.maxRetries() == 0) {
      return Map.of();  // no retries: gRPC's policy needs at least two attempts
    }
    List<Object> methods = List.of("ResolveConflict", "Push", "Pull", "ListConflicts", "GetStatus").stream()
        .map(method -> (Object) Map.of("service", SERVICE, "method", method)).toList();
    Map<String, Object> retry = Map.of(
        "maxAttempts", (double) Math.min(GRPC_MAX_ATTEMPTS, policy.maxRetries() + 1),
        "initialBackoff", seconds(policy.baseDelay()),
        "maxBackoff", seconds(policy.maxDelay()),
        "backoffMultiplier", policy.multiplier(),
        "retryableStatusCodes", List.of("UNAVAILABLE", "RESOURCE_EXHAUSTED"));
    return Map.of("methodConfig", List.of(Map.of("name", methods, "retryPolicy", retry)));
  }

  private static String seconds(java.time.Duration duration) {
    return java.math.BigDecimal.valueOf(duration.toNanos(), 9).stripTrailingZeros().toPlainString() + "s";
  }
}

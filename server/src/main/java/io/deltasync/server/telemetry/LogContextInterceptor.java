package io.deltasync.server.telemetry;

import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.Subscription;
import io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.MDC;

/**
 * Puts who and what a call is about into the logging MDC while the server handles it: {@code request_id} (the
 * client's {@code x-request-id} header when it is a plain token, else a new UUID), {@code method}, and, once a
 * request names them, {@code client_id} and {@code scope}. Nothing else of the request or its metadata goes there:
 * never a credential, never an entity's data.
 *
 * <p>The call's own callbacks carry the context, and so does the thread a stream handles its client's messages on
 * ({@link #carrying}); the stream's change delivery and the live feed log the client id in their messages instead.
 */
public final class LogContextInterceptor implements ServerInterceptor {
  private static final Metadata.Key<String> REQUEST_ID =
      Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER);
  private static final Pattern PLAIN_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  private static final int MAX_SCOPES = 8;

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
      ServerCallHandler<ReqT, RespT> next) {
    String given = headers.get(REQUEST_ID);
    Map<String, String> context = new ConcurrentHashMap<>();
    context.put("request_id", given != null && PLAIN_ID.matcher(given).matches() ? given : newRequestId());
    context.put("method", call.getMethodDescriptor().getFullMethodName());
    ServerCall.Listener<ReqT> delegate = within(context, () -> next.startCall(call, headers));
    return new SimpleForwardingServerCallListener<>(delegate) {
      @Override
      public void onMessage(ReqT message) {
        learn(context, message);
        within(context, () -> {
          super.onMessage(message);
          return null;
        });
      }

      @Override
      public void onHalfClose() {
        within(context, () -> {
          super.onHalfClose();
          return null;
        });
      }

      @Override
      public void onCancel() {
        within(context, () -> {
          super.onCancel();
          return null;
        });
      }

      @Override
      public void onComplete() {
        within(context, () -> {
          super.onComplete();
          return null;
        });
      }

      @Override
      public void onReady() {
        within(context, () -> {
          super.onReady();
          return null;
        });
      }
    };
  }

  /**
   * A random version-4 UUID for a call without its own id. From {@link ThreadLocalRandom}, not {@link
   * UUID#randomUUID}: the id only ties a call's log lines together, it is no secret, and SecureRandom cost a few
   * percent of a unary call's server CPU (a profile, docs/performance.md "Sixth part").
   */
  static String newRequestId() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long high = (random.nextLong() & ~0xF000L) | 0x4000L;
    long low = (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(high, low).toString();
  }

  /** The client id and scopes a request names (the first hello of a stream names them for the whole stream). */
  private static void learn(Map<String, String> context, Object message) {
    switch (message) {
      case PushRequest push -> {
        put(context, "client_id", push.getClientId());
        TreeSet<String> scopes = new TreeSet<>();
        push.getDeltasList().forEach(d -> scopes.add(d.getScope()));
        put(context, "scope", join(scopes));
      }
      case PullRequest pull -> put(context, "scope", join(new TreeSet<>(pull.getScopesList())));
      case SyncRequest sync when sync.hasHello() -> {
        put(context, "client_id", sync.getHello().getClientId());
        TreeSet<String> scopes = new TreeSet<>();
        for (Subscription subscription : sync.getHello().getSubscriptionsList()) {
          scopes.addAll(subscription.getScopesList());
        }
        put(context, "scope", join(scopes));
      }
      case com.google.protobuf.Message other -> {
        var field = other.getDescriptorForType().findFieldByName("client_id");
        if (field != null && field.getJavaType() == com.google.protobuf.Descriptors.FieldDescriptor.JavaType.STRING
            && !field.isRepeated()) {
          put(context, "client_id", (String) other.getField(field));
        }
      }
      default -> { }
    }
  }

  private static String join(TreeSet<String> scopes) {
    if (scopes.size() > MAX_SCOPES) {
      return String.join(",", scopes.stream().limit(MAX_SCOPES).toList()) + ",…";
    }
    return String.join(",", scopes);
  }

  private static void put(Map<String, String> context, String key, String value) {
    if (value != null && !value.isEmpty()) {
      // Client-chosen text: bounded, so that a log line stays a line.
      context.put(key, value.length() > 256 ? value.substring(0, 256) : value);
    }
  }

  /**
   * {@code work} with the logging context of the calling thread, for handing to another thread (a stream runs its
   * client's messages on a thread of its own).
   */
  public static Runnable carrying(Runnable work) {
    Map<String, String> context = MDC.getCopyOfContextMap();
    if (context == null || context.isEmpty()) {
      return work;
    }
    return () -> within(context, () -> {
      work.run();
      return null;
    });
  }

  private static <T> T within(Map<String, String> context, Supplier<T> work) {
    Map<String, String> before = MDC.getCopyOfContextMap();
    context.forEach(MDC::put);
    try {
      return work.get();
    } finally {
      if (before == null) {
        MDC.clear();
      } else {
        MDC.setContextMap(before);
      }
    }
  }
}

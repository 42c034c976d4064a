package io.deltasync.server.auth;

import com.google.rpc.Code;
import io.deltasync.server.error.Errors;
import io.deltasync.v1.AdminServiceGrpc;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Authenticates every call but health checks, checks the method's permission, enforces the per-principal limits on
 * open Sync streams and concurrent Push calls, and puts the {@link Principal} into the call's context. Refusals are
 * UNAUTHENTICATED (TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED), PERMISSION_DENIED naming the permission, or
 * RESOURCE_EXHAUSTED (LIMIT_EXCEEDED); never a stack trace, never which check of a token failed.
 */
public final class AuthInterceptor implements ServerInterceptor {
  private static final String HEALTH = "grpc.health.v1.Health";
  private static final Map<String, Permission> PERMISSIONS = Map.ofEntries(
      Map.entry(SyncServiceGrpc.getSyncMethod().getFullMethodName(), Permission.SYNC_READ),
      Map.entry(SyncServiceGrpc.getWatchChangesMethod().getFullMethodName(), Permission.SYNC_READ),
      Map.entry(SyncServiceGrpc.getPushMethod().getFullMethodName(), Permission.SYNC_WRITE),
      Map.entry(SyncServiceGrpc.getPullMethod().getFullMethodName(), Permission.SYNC_READ),
      Map.entry(SyncServiceGrpc.getGetStatusMethod().getFullMethodName(), Permission.SYNC_READ),
      Map.entry(SyncServiceGrpc.getListConflictsMethod().getFullMethodName(), Permission.CONFLICTS_READ),
      Map.entry(SyncServiceGrpc.getResolveConflictMethod().getFullMethodName(), Permission.CONFLICTS_RESOLVE),
      Map.entry(AdminServiceGrpc.getGetMetricsMethod().getFullMethodName(), Permission.OPS_METRICS),
      Map.entry(AdminServiceGrpc.getCleanupTombstonesMethod().getFullMethodName(), Permission.OPS_CLEANUP));

  private final Authenticator authenticator;
  private final AuthSettings settings;
  // principal -> calls open now; an entry is removed at zero, so the maps only hold principals with calls open.
  private final Map<String, Integer> streams = new ConcurrentHashMap<>();
  private final Map<String, Integer> pushes = new ConcurrentHashMap<>();

  /** Guards calls with the authenticator's settings. */
  public AuthInterceptor(Authenticator authenticator) {
    this.authenticator = authenticator;
    this.settings = authenticator.settings();
  }

  /**
   * The permission a method needs: the table above; any other AdminService method needs {@code ops:status};
   * reflection needs {@code ops:reflection} when DELTASYNC_REFLECTION=permission; anything else is refused.
   */
  static Permission permissionOf(String fullMethodName, String serviceName) {
    Permission permission = PERMISSIONS.get(fullMethodName);
    if (permission != null) {
      return permission;
    }
    if (AdminServiceGrpc.SERVICE_NAME.equals(serviceName)) {
      return Permission.OPS_STATUS;
    }
    if (serviceName != null && serviceName.startsWith("grpc.reflection.")) {
      return Permission.OPS_REFLECTION;
    }
    return null;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    String method = call.getMethodDescriptor().getFullMethodName();
    if (HEALTH.equals(service)) {
      return next.startCall(call, headers);
    }
    boolean reflection = service != null && service.startsWith("grpc.reflection.");
    if (reflection && settings.reflection() == AuthSettings.Reflection.ON) {
      return next.startCall(call, headers);
    }
    Principal principal;
    // AUTO is resolved before the server starts; were it not, calls would be authenticated (fail closed).
    if (settings.mode() == AuthSettings.Mode.NONE) {
      principal = Principal.ANONYMOUS;
    } else {
      switch (authenticator.authenticate(headers)) {
        case Authenticator.Refused refused -> {
          Audit.unauthenticated(method, Errors.reason(refused.failure().reason()));
          return refuse(call, refused.failure().status());
        }
        case Authenticator.Authenticated ok -> principal = ok.principal();
      }
    }
    Permission needed = permissionOf(method, service);
    if (needed == null) {
      return refuse(call, Errors.status(Code.PERMISSION_DENIED, ErrorReason.ERROR_REASON_PERMISSION_DENIED,
          "method: not open to callers"));
    }
    if (!principal.has(needed)) {
      Audit.denied(principal, "", needed.label(), "");
      return refuse(call, Access.missingPermission(needed));
    }
    if (needed == Permission.OPS_CLEANUP || needed == Permission.OPS_STATUS) {
      Audit.operation(principal, method);
    }
    Map<String, Integer> counted = null;
    int limit = 0;
    if (method.equals(SyncServiceGrpc.getSyncMethod().getFullMethodName())
        || method.equals(SyncServiceGrpc.getWatchChangesMethod().getFullMethodName())) {
      counted = streams;
      limit = settings.maxStreamsPerPrincipal();
    } else if (method.equals(SyncServiceGrpc.getPushMethod().getFullMethodName())) {
      counted = pushes;
      limit = settings.maxPushesPerPrincipal();
    }
    Context context = Context.current().withValue(Principal.CONTEXT_KEY, principal);
    String presentedKey = headers.get(Authenticator.API_KEY);
    if (principal.kind() == Principal.Kind.API_KEY && presentedKey != null) {
      // Which secret opened the call: a stream must end when that secret is rotated out, even if the key's name
      // stays in the file with a new one.
      context = context.withValue(Authenticator.KEY_DIGEST, ApiKeys.sha256(presentedKey));
    }
    if (counted == null || principal.kind() == Principal.Kind.ANONYMOUS) {
      return Contexts.interceptCall(context, call, headers, next);
    }
    String who = principal.label() + "\n" + principal.issuer();
    boolean[] admitted = new boolean[1];
    int most = limit;
    counted.compute(who, (k, open) -> {
      int n = open == null ? 0 : open;
      admitted[0] = n < most;
      return admitted[0] ? Integer.valueOf(n + 1) : open;
    });
    if (!admitted[0]) {
      return refuse(call, Errors.status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
          (counted == streams ? "Sync streams" : "concurrent Push calls") + ": " + limit + " already open for this "
              + "principal (" + (counted == streams ? "DELTASYNC_MAX_STREAMS_PER_PRINCIPAL"
              : "DELTASYNC_MAX_PUSHES_PER_PRINCIPAL") + "); close one first"));
    }
    Map<String, Integer> table = counted;
    AtomicBoolean released = new AtomicBoolean();
    Runnable release = () -> {
      if (released.compareAndSet(false, true)) {
        table.computeIfPresent(who, (k, open) -> open <= 1 ? null : open - 1);
      }
    };
    ServerCall<Q, R> counting = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        release.run();
        super.close(status, trailers);
      }
    };
    ServerCall.Listener<Q> listener = Contexts.interceptCall(context, counting, headers, next);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        release.run();
        super.onCancel();
      }

      @Override
      public void onComplete() {
        release.run();
        super.onComplete();
      }
    };
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, com.google.rpc.Status status) {
    StatusRuntimeException e = StatusProto.toStatusRuntimeException(status);
    call.close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
    return new ServerCall.Listener<>() {};
  }
}

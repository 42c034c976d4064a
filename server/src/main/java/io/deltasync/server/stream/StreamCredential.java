package io.deltasync.server.stream;

import com.google.protobuf.Timestamp;
import com.google.rpc.Code;
import io.deltasync.server.auth.Access;
import io.deltasync.server.auth.Authenticator;
import io.deltasync.server.auth.Permission;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ScopeSet;
import io.deltasync.server.stream.OutboundQueue.Outgoing;
import io.deltasync.v1.Change;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncTokenAccepted;
import io.deltasync.v1.SyncTokenExpiring;
import io.deltasync.v1.Subscription;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The credential a Sync stream runs under, and everything the stream does with it: the checks of a hello, a push
 * and a checksum request; narrowing what goes out to the scopes the credential may read (every change batch passes
 * through {@link #readableOnly} on its way to the queue, so nothing of a scope it may not read leaves the stream,
 * whichever read produced it); replacing the credential with a refreshed token; and its expiry (a warning, then the
 * end of the stream).
 */
final class StreamCredential {
  private final Authenticator authenticator;
  // The secret an API-key stream was opened with (its digest), from the call's context at open.
  private final Optional<String> keyDigest;
  private final Duration warning;
  private final Clock clock;
  private volatile Principal principal;
  private boolean warned;  // guarded by the session's lock

  StreamCredential(Principal principal, Authenticator authenticator, Duration warning, Clock clock) {
    this(principal, authenticator, warning, clock, Authenticator.presentedKeyDigest());
  }

  /** With the digest of the API key the stream was opened with ({@link Authenticator#presentedKeyDigest()}). */
  StreamCredential(Principal principal, Authenticator authenticator, Duration warning, Clock clock,
      Optional<String> keyDigest) {
    this.keyDigest = keyDigest;
    this.principal = principal;
    this.authenticator = authenticator;
    this.warning = warning;
    this.clock = clock;
  }

  /** The principal now. */
  Principal principal() {
    return principal;
  }

  /**
   * Refuses a hello naming a scope the credential may not read (PERMISSION_DENIED naming the field) and returns the
   * client id as the server stores it for this principal.
   */
  String checkHello(SyncHello hello) {
    Principal now = principal;
    for (int i = 0; i < hello.getSubscriptionsCount(); i++) {
      Subscription subscription = hello.getSubscriptions(i);
      for (int j = 0; j < subscription.getScopesCount(); j++) {
        Access.requireReadable(now, "hello.subscriptions[" + i + "].scopes[" + j + "]", subscription.getScopes(j));
      }
    }
    return now.clientKey(hello.getClientId());
  }

  /**
   * A digest of the scopes the credential may read ({@link io.deltasync.server.store.ClientGrants}); empty for an
   * anonymous caller (DELTASYNC_AUTH=none: every scope, always).
   */
  Optional<String> grantsDigest() {
    return digestOf(principal);
  }

  /** Whether every scope {@code refreshed} may read, the current credential may read too (a narrowing or equal). */
  boolean narrowedBy(Principal refreshed) {
    ScopeSet now = principal.readable();
    ScopeSet next = refreshed.readable();
    if (now.all()) {
      return true;
    }
    if (next.all()) {
      return false;
    }
    return next.exact().stream().allMatch(now::contains)
        && next.prefixes().stream().allMatch(p -> now.prefixes().stream().anyMatch(p::startsWith));
  }

  static Optional<String> digestOf(Principal principal) {
    if (principal.kind() == Principal.Kind.ANONYMOUS) {
      return Optional.empty();
    }
    try {
      byte[] hash = java.security.MessageDigest.getInstance("SHA-256").digest(
          String.join("\n", principal.readable().patterns()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return Optional.of(java.util.HexFormat.of().formatHex(hash));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** The filter restricted to the scopes the credential may read. */
  ChangeFilter narrow(ChangeFilter filter) {
    return filter.restrictedTo(principal.readable());
  }

  /**
   * The principal, if it may push: its token not expired and its API key not withdrawn (else UNAUTHENTICATED, even
   * in the second before the expiry check ends the stream), and granted sync:write (else PERMISSION_DENIED).
   */
  Principal mayPush() {
    if (!stillValid()) {
      throw new DeltaSyncException(Errors.status(Code.UNAUTHENTICATED, principal.kind() == Principal.Kind.API_KEY
          ? ErrorReason.ERROR_REASON_TOKEN_INVALID : ErrorReason.ERROR_REASON_TOKEN_EXPIRED,
          "the stream's credential is no longer valid; open a new stream with a fresh one"));
    }
    Principal now = principal;
    Access.require(now, Permission.SYNC_WRITE);
    return now;
  }

  /** Refuses a scope the credential may not read. */
  void checkReadable(String field, String scope) {
    Access.requireReadable(principal, field, scope);
  }

  /** A message on its way out, without the changes of scopes the credential may not read (now). */
  Outgoing readableOnly(Outgoing outgoing) {
    ScopeSet readable = principal.readable();
    if (readable.all() || !outgoing.isChanges()) {
      return outgoing;
    }
    SyncChanges batch = outgoing.message().getChanges();
    List<Change> kept = batch.getChangesList().stream()
        .filter(c -> readable.contains(c.getEntity().getScope())).toList();
    if (kept.size() == batch.getChangesCount()) {
      return outgoing;
    }
    // The batch and its cursor still go out (possibly empty): the client's position moves on past what it may not
    // see, as it does past changes its filter leaves out.
    return new Outgoing(SyncResponse.newBuilder().setChanges(batch.toBuilder().clearChanges().addAllChanges(kept))
        .build(), kept.size(), outgoing.frontier());
  }

  /**
   * Verifies a refreshed token: it must be valid, name the same principal (client ids belong to it) and still
   * grant sync:read. Throws what the client is told (the previous credential stays in force); returns the
   * acknowledgement to send once the session has switched to it with {@link #use}.
   */
  Principal verifyRefresh(String token) {
    Principal current = principal;
    Principal refreshed = switch (authenticator.token(token)) {
      case Authenticator.Refused refused -> throw new DeltaSyncException(refused.failure().status());
      case Authenticator.Authenticated ok -> ok.principal();
    };
    if (refreshed.kind() != current.kind() || !refreshed.id().equals(current.id())
        || !refreshed.issuer().equals(current.issuer())) {
      throw new DeltaSyncException(Errors.status(Code.PERMISSION_DENIED, ErrorReason.ERROR_REASON_PERMISSION_DENIED,
          "token_refresh.token: names another principal than the stream's; open a new stream for it",
          Map.of("field", "token_refresh.token")));
    }
    if (!refreshed.has(Permission.SYNC_READ)) {
      throw new DeltaSyncException(Access.missingPermission(Permission.SYNC_READ));
    }
    return refreshed;
  }

  /** Under the session's lock: the stream runs under {@code refreshed} from now on. */
  SyncResponse use(Principal refreshed) {
    principal = refreshed;
    warned = false;
    SyncTokenAccepted.Builder accepted = SyncTokenAccepted.newBuilder();
    refreshed.expiresAt().ifPresent(at -> accepted.setExpiresAt(timestamp(at)));
    return SyncResponse.newBuilder().setTokenAccepted(accepted).build();
  }

  /** What the credential's expiry asks of the stream now. */
  sealed interface Expiry permits Fine, Warn, Expired {}

  /** Nothing to do. */
  record Fine() implements Expiry {}

  /** Send this warning. */
  record Warn(SyncResponse message) implements Expiry {}

  /** End the stream with this status. */
  record Expired(io.grpc.Status status, io.grpc.Metadata trailers) implements Expiry {}

  /** Whether the credential still holds now (no state changes: safe outside the session's lock). */
  private boolean stillValid() {
    Principal now = principal;
    if (now.kind() == Principal.Kind.API_KEY) {
      return authenticator.current(now, keyDigest).map(p -> p.has(Permission.SYNC_WRITE)).orElse(false);
    }
    return now.expiresAt().map(at -> clock.instant().isBefore(at)).orElse(true);
  }

  /**
   * Under the session's lock, every second (SyncSessions). An API key withdrawn from the key
   * file ends the stream; one whose grants changed applies them from now on (lost scopes stop at once).
   */
  Expiry checkExpiry() {
    if (principal.kind() == Principal.Kind.API_KEY) {
      Optional<Principal> now = authenticator.current(principal, keyDigest);
      if (now.isPresent() && !now.get().has(Permission.SYNC_READ)) {
        var end = io.grpc.protobuf.StatusProto.toStatusRuntimeException(Access.missingPermission(
            Permission.SYNC_READ));
        return new Expired(end.getStatus(), end.getTrailers());
      }
      if (now.isEmpty()) {
        var end = io.grpc.protobuf.StatusProto.toStatusRuntimeException(Errors.status(Code.UNAUTHENTICATED,
            ErrorReason.ERROR_REASON_TOKEN_INVALID, "the stream's API key was withdrawn or its secret rotated"));
        return new Expired(end.getStatus(), end.getTrailers());
      }
      if (!now.get().readable().equals(principal.readable())) {
        // Scopes it may read changed: the stream ends, and the client's next hello, under the new grants, is told to
        // resync (a scope gained must start with its current state).
        var end = io.grpc.protobuf.StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE,
            ErrorReason.ERROR_REASON_RECONNECT, "the scopes the stream's API key may read changed; reconnect"));
        return new Expired(end.getStatus(), end.getTrailers());
      }
      principal = now.get();
      return new Fine();
    }
    Optional<Instant> expiresAt = principal.expiresAt();
    if (expiresAt.isEmpty()) {
      return new Fine();
    }
    Instant now = clock.instant();
    if (!now.isBefore(expiresAt.get())) {
      var end = io.grpc.protobuf.StatusProto.toStatusRuntimeException(Errors.status(Code.UNAUTHENTICATED,
          ErrorReason.ERROR_REASON_TOKEN_EXPIRED, "the stream's token expired; no fresh one came as "
              + "SyncTokenRefresh"));
      return new Expired(end.getStatus(), end.getTrailers());
    }
    if (!warned && !now.isBefore(expiresAt.get().minus(warning))) {
      warned = true;
      return new Warn(SyncResponse.newBuilder().setTokenExpiring(SyncTokenExpiring.newBuilder()
          .setExpiresAt(timestamp(expiresAt.get()))).build());
    }
    return new Fine();
  }

  private static Timestamp timestamp(Instant at) {
    return Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()).build();
  }
}

package io.deltasync.server.auth;

import io.deltasync.server.store.ScopeSet;
import io.grpc.Context;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/**
 * Who is calling, as the credential says, and what the sync rules grant them.
 *
 * @param kind how the caller authenticated
 * @param id the subject of a token, the name of an API key, empty when anonymous
 * @param issuer the token's issuer (empty for API keys and anonymous callers)
 * @param roles the roles the credential carries
 * @param permissions what the roles allow
 * @param readable the scopes the caller may read
 * @param writable the scopes the caller may write
 * @param expiresAt when the credential stops being valid, leeway included (empty: never, for API keys)
 */
public record Principal(Kind kind, String id, String issuer, Set<String> roles, Set<Permission> permissions,
    ScopeSet readable, ScopeSet writable, Optional<Instant> expiresAt) {

  /** How a caller authenticated. */
  public enum Kind { ANONYMOUS, TOKEN, API_KEY }

  /** The caller of a server run with DELTASYNC_AUTH=none: every permission, every scope, client ids as sent. */
  public static final Principal ANONYMOUS = new Principal(Kind.ANONYMOUS, "", "", Set.of(),
      EnumSet.allOf(Permission.class), ScopeSet.ALL, ScopeSet.ALL, Optional.empty());

  /** Where the interceptor puts the caller for the call's handlers. */
  static final Context.Key<Principal> CONTEXT_KEY = Context.key("deltasync-principal");

  /** Compact copy. */
  public Principal {
    roles = Set.copyOf(roles);
    permissions = permissions.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(permissions));
  }

  /**
   * The caller of the current call. Every service is behind {@link AuthInterceptor}, so there is always one; a
   * missing one is a programming error, never a reason to let a call through as anonymous.
   */
  public static Principal current() {
    Principal principal = CONTEXT_KEY.get();
    if (principal == null) {
      throw new IllegalStateException("no principal in the call's context: is the service behind AuthInterceptor?");
    }
    return principal;
  }

  /** Whether the credential grants the permission. */
  public boolean has(Permission permission) {
    return permissions.contains(permission);
  }

  /**
   * The client id as the server stores it: with authentication, a client id belongs to its principal, so two
   * principals using the same client id are two clients (idempotency, status, own-change handling) and nobody can
   * act as another's client. The stored form is a short digest of the principal, a {@code ~}, and the id as sent.
   * Anonymous callers (DELTASYNC_AUTH=none) keep their client ids exactly as sent.
   */
  public String clientKey(String clientId) {
    return kind == Kind.ANONYMOUS ? clientId : namespace() + "~" + clientId;
  }

  /** A label for logs: kind and id, never a credential. */
  public String label() {
    return switch (kind) {
      case ANONYMOUS -> "anonymous";
      case TOKEN -> "token:" + id;
      case API_KEY -> "key:" + id;
    };
  }

  private String namespace() {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(
          (kind.name() + "\n" + issuer + "\n" + id).getBytes(StandardCharsets.UTF_8));
      // 12 bytes: collisions between principals are out of reach (2^48 principals for an even chance).
      return HexFormat.of().formatHex(digest, 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}

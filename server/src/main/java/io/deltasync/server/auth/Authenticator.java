package io.deltasync.server.auth;

import com.nimbusds.jwt.JWTClaimsSet;
import io.grpc.Metadata;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Turns the credential of a call (a bearer token or an API key) into a {@link Principal}, or says why not. */
public final class Authenticator {
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization",
      Metadata.ASCII_STRING_MARSHALLER);
  static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);
  /** The digest of the API key that authenticated the call (set by the interceptor). */
  static final io.grpc.Context.Key<String> KEY_DIGEST = io.grpc.Context.key("deltasync-api-key-digest");
  private static final String BEARER = "bearer ";

  /** A credential's verdict. */
  public sealed interface Result permits Authenticated, Refused {}

  /** Accepted, as this principal. */
  public record Authenticated(Principal principal) implements Result {}

  /** Refused, for this reason. */
  public record Refused(AuthFailure failure) implements Result {}

  private final AuthSettings settings;
  private final AccessRules rules;
  private final TokenVerifier tokens;
  private final Optional<ApiKeys> apiKeys;

  private Authenticator(AuthSettings settings, AccessRules rules, TokenVerifier tokens, Optional<ApiKeys> apiKeys) {
    this.settings = settings;
    this.rules = rules;
    this.tokens = tokens;
    this.apiKeys = apiKeys;
  }

  /**
   * Builds the authenticator of the settings: reads keys, rules and API keys (the JWKS URL is fetched on first use).
   *
   * @throws IOException when a configured file cannot be read or parsed, or nothing can verify a credential
   */
  public static Authenticator create(AuthSettings settings, Clock clock) throws IOException {
    try {
      TokenVerifier tokens = new TokenVerifier(settings, clock);
      Optional<ApiKeys> keys = settings.apiKeysFile().isPresent()
          ? Optional.of(new ApiKeys(settings.apiKeysFile().get())) : Optional.empty();
      if (settings.mode() == AuthSettings.Mode.TOKEN && !tokens.configured() && keys.isEmpty()) {
        // DELTASYNC_AUTH=token with an external database and nothing to verify credentials with.
        throw new IOException("DELTASYNC_AUTH=token, but nothing can verify a credential: set "
            + "DELTASYNC_JWT_HS256_SECRET, DELTASYNC_JWT_PUBLIC_KEY_FILE, DELTASYNC_JWT_JWKS_FILE, "
            + "DELTASYNC_JWT_JWKS_URL or DELTASYNC_API_KEYS_FILE (docs/security.md)");
      }
      AccessRules rules = settings.rulesFile().isPresent() ? AccessRules.load(settings.rulesFile().get())
          : AccessRules.defaults();
      Authenticator authenticator = new Authenticator(settings, rules, tokens, keys);
      keys.ifPresent(Reloads::onHangUp);
      return authenticator;
    } catch (GeneralSecurityException e) {
      throw new IOException("the token keys cannot be used: " + e.getMessage(), e);
    }
  }

  /** The settings it was built from. */
  public AuthSettings settings() {
    return settings;
  }

  /** The credential of a call's metadata. */
  public Result authenticate(Metadata headers) {
    String key = headers.get(API_KEY);
    if (key != null && apiKeys.isPresent()) {
      return apiKey(key);
    }
    String authorization = headers.get(AUTHORIZATION);
    if (authorization == null) {
      return new Refused(key == null ? AuthFailure.MISSING : AuthFailure.INVALID);
    }
    if (!authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return new Refused(AuthFailure.INVALID);
    }
    return token(authorization.substring(BEARER.length()).trim());
  }

  /** A bearer token (a SyncTokenRefresh, or the authorization header without "Bearer "). */
  public Result token(String token) {
    if (token.isEmpty()) {
      return new Refused(AuthFailure.MISSING);
    }
    return switch (tokens.verify(token)) {
      case TokenVerifier.Rejected rejected -> new Refused(rejected.failure());
      case TokenVerifier.Verified verified -> new Authenticated(principal(verified.claims()));
    };
  }

  private Result apiKey(String presented) {
    return apiKeys.get().find(presented)
        .<Result>map(k -> new Authenticated(principal(k)))
        .orElse(new Refused(AuthFailure.INVALID));
  }

  private Principal principal(ApiKeys.Key key) {
    return rules.principal(Principal.Kind.API_KEY, key.name(), "", key.roles(), java.util.Map.of("sub", key.name()),
        Optional.empty(), key.read(), key.write());
  }

  /**
   * The principal as its credential stands now, for a long-lived stream opened with it: an API key's grants as the
   * key file has them now (empty if the key was withdrawn); a token's principal is what the token says until it
   * expires, so it is returned as it is.
   */
  public Optional<Principal> current(Principal principal) {
    return current(principal, Optional.empty());
  }

  /**
   * As {@link #current(Principal)}, for an API key presented as the secret with {@code keyDigest} (see
   * {@link #presentedKeyDigest()}): the key must still be in the file with that very secret — a rotated secret
   * (same name, new digest) no longer holds.
   */
  public Optional<Principal> current(Principal principal, Optional<String> keyDigest) {
    if (principal.kind() != Principal.Kind.API_KEY) {
      return Optional.of(principal);
    }
    return apiKeys.flatMap(keys -> keyDigest.isPresent() ? keys.withDigest(keyDigest.get())
        .filter(k -> k.name().equals(principal.id())) : keys.named(principal.id())).map(this::principal);
  }

  /** The SHA-256 of the API key the current call presented, if it was authenticated by one. */
  public static Optional<String> presentedKeyDigest() {
    return Optional.ofNullable(KEY_DIGEST.get());
  }

  private Principal principal(JWTClaimsSet claims) {
    Set<String> roles = new LinkedHashSet<>();
    Object claim = AccessRules.claim(claims.toJSONObject(), settings.rolesClaim());
    if (claim instanceof String s) {
      // A space-separated string, as OAuth's "scope" claim is.
      roles.addAll(List.of(s.trim().split("\\s+")));
    } else {
      roles.addAll(AccessRules.flatten(claim));
    }
    roles.removeIf(String::isEmpty);
    return rules.principal(Principal.Kind.TOKEN, claims.getSubject(),
        claims.getIssuer() == null ? "" : claims.getIssuer(), roles, claims.toJSONObject(),
        Optional.of(TokenVerifier.expiry(claims, settings.leeway())), List.of(), List.of());
  }
}

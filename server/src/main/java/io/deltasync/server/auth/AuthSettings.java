package io.deltasync.server.auth;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The security settings (DELTASYNC_AUTH and the variables beside it; README, "Configuration", and
 * docs/security.md). Parsed here so that the server's configuration only holds one component for them.
 *
 * @param mode whether calls must carry a credential
 * @param hs256Secret the HS256 secret (at least 32 bytes), if tokens signed with one are accepted
 * @param publicKeyFile a PEM file of public keys (RSA, EC) tokens may be signed with
 * @param jwksFile a JWKS file of such keys
 * @param jwksUrl an HTTPS URL of a JWKS (an identity provider's), fetched, cached and refreshed on rotation
 * @param jwksCaFile a PEM file of the certificate authorities trusted for {@code jwksUrl} (else the JDK's)
 * @param issuer the issuer tokens must name ({@code iss}), if any
 * @param audience the audience tokens must name ({@code aud}), if any
 * @param leeway the clock skew allowed when checking {@code exp} and {@code nbf}
 * @param rolesClaim the claim (a dotted path for nested claims) that holds a token's roles
 * @param rulesFile the JSON file of roles and sync rules (else the defaults of docs/security.md)
 * @param apiKeysFile the JSON file of API keys (stored as SHA-256 digests), reloaded when it changes
 * @param reflection who may use server reflection
 * @param expiryWarning how long before a stream's credential expires the stream is warned (SyncTokenExpiring)
 * @param maxStreamsPerPrincipal the most Sync streams one principal may have open at once on a node
 * @param maxPushesPerPrincipal the most Push calls one principal may run at once on a node
 * @param tls the TLS settings of the listening socket
 */
public record AuthSettings(Mode mode, Optional<byte[]> hs256Secret, Optional<Path> publicKeyFile,
    Optional<Path> jwksFile, Optional<URI> jwksUrl, Optional<Path> jwksCaFile, Optional<String> issuer,
    Optional<String> audience, Duration leeway, String rolesClaim, Optional<Path> rulesFile,
    Optional<Path> apiKeysFile, Reflection reflection, Duration expiryWarning, int maxStreamsPerPrincipal,
    int maxPushesPerPrincipal, Tls tls) {

  /**
   * TLS of the listening socket.
   *
   * @param certFile the server's certificate chain (PEM), if TLS is served
   * @param keyFile the server's private key (PEM, PKCS#8), with {@code certFile}
   * @param clientCaFile the CAs (PEM) client certificates must chain to; when set, clients must present one
   * @param allowPlaintext whether plaintext may be served on an address other than loopback
   */
  public record Tls(Optional<java.nio.file.Path> certFile, Optional<java.nio.file.Path> keyFile,
      Optional<java.nio.file.Path> clientCaFile, boolean allowPlaintext) {
    /** Whether TLS is served. */
    public boolean enabled() {
      return certFile.isPresent();
    }
  }

  /** Whether calls must authenticate. */
  public enum Mode {
    /**
     * DELTASYNC_AUTH unset: TOKEN when a way to verify credentials is configured or the database is the embedded one
     * (then with the development key); otherwise (an external database and nothing configured) NONE, which only
     * starts on loopback.
     */
    AUTO,
    /** Anonymous access with every permission; only allowed when listening on loopback. */
    NONE,
    /** Every call (but health) carries a token or an API key. */
    TOKEN
  }

  /** Who may use server reflection. */
  public enum Reflection {
    /** Anyone, without a credential (the default: grpcurl and buf curl work out of the box). */
    ON,
    /** Nobody: the reflection services are not served. */
    OFF,
    /** Callers whose credential grants {@code ops:reflection}. */
    PERMISSION
  }

  /** The smallest HS256 secret accepted (RFC 7518 3.2: at least the hash's size). */
  public static final int MIN_SECRET_BYTES = 32;

  /** Anonymous access, the defaults for everything else (tests and local tools). */
  public static AuthSettings none() {
    return from(Map.of());
  }

  /** A copy in another mode. */
  public AuthSettings withMode(Mode newMode) {
    return new AuthSettings(newMode, hs256Secret, publicKeyFile, jwksFile, jwksUrl, jwksCaFile, issuer, audience,
        leeway, rolesClaim, rulesFile, apiKeysFile, reflection, expiryWarning, maxStreamsPerPrincipal,
        maxPushesPerPrincipal, tls);
  }

  /** Whether a way to verify credentials is configured (a secret, keys, a JWKS, API keys). */
  public boolean verifiesCredentials() {
    return hs256Secret.isPresent() || publicKeyFile.isPresent() || jwksFile.isPresent() || jwksUrl.isPresent()
        || apiKeysFile.isPresent();
  }

  /**
   * The mode the server runs in, DELTASYNC_AUTH=auto resolved: {@code embedded} says whether the database is the
   * embedded one (whose data directory holds the development key).
   */
  public Mode effectiveMode(boolean embedded) {
    if (mode != Mode.AUTO) {
      return mode;
    }
    return verifiesCredentials() || embedded ? Mode.TOKEN : Mode.NONE;
  }

  /** Whether the server signs and accepts development tokens with the key in its data directory. */
  public boolean usesDevelopmentKey(boolean embedded) {
    return effectiveMode(embedded) == Mode.TOKEN && !verifiesCredentials() && embedded;
  }

  /** A copy accepting HS256 tokens signed with {@code secret}. */
  public AuthSettings withHs256Secret(byte[] secret) {
    return new AuthSettings(mode, Optional.of(secret.clone()), publicKeyFile, jwksFile, jwksUrl, jwksCaFile, issuer,
        audience, leeway, rolesClaim, rulesFile, apiKeysFile, reflection, expiryWarning, maxStreamsPerPrincipal,
        maxPushesPerPrincipal, tls);
  }

  /**
   * Reads the settings from the variables.
   *
   * @throws IllegalArgumentException naming the variable, its value and what is expected
   */
  public static AuthSettings from(Map<String, String> env) {
    Mode mode = switch (value(env, "DELTASYNC_AUTH").orElse("auto").toLowerCase(Locale.ROOT)) {
      case "auto" -> Mode.AUTO;
      case "none" -> Mode.NONE;
      case "token" -> Mode.TOKEN;
      default -> throw new IllegalArgumentException("DELTASYNC_AUTH: '" + env.get("DELTASYNC_AUTH")
          + "' (expected: token, none or auto)");
    };
    Optional<byte[]> secret = value(env, "DELTASYNC_JWT_HS256_SECRET")
        .map(s -> s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    if (secret.isPresent() && secret.get().length < MIN_SECRET_BYTES) {
      throw new IllegalArgumentException("DELTASYNC_JWT_HS256_SECRET: " + secret.get().length + " bytes (expected: >= "
          + MIN_SECRET_BYTES + ")");
    }
    Optional<URI> jwksUrl = value(env, "DELTASYNC_JWT_JWKS_URL").map(u -> {
      URI uri;
      try {
        uri = URI.create(u);
      } catch (IllegalArgumentException e) {
        uri = null;
      }
      if (uri == null || !"https".equals(uri.getScheme()) || uri.getHost() == null) {
        throw new IllegalArgumentException("DELTASYNC_JWT_JWKS_URL: '" + u + "' (expected: an https:// URL)");
      }
      return uri;
    });
    Reflection reflection = switch (value(env, "DELTASYNC_REFLECTION").orElse("on").toLowerCase(Locale.ROOT)) {
      case "on" -> Reflection.ON;
      case "off" -> Reflection.OFF;
      case "permission" -> Reflection.PERMISSION;
      default -> throw new IllegalArgumentException("DELTASYNC_REFLECTION: '" + env.get("DELTASYNC_REFLECTION")
          + "' (expected: on, off or permission)");
    };
    return new AuthSettings(mode, secret,
        value(env, "DELTASYNC_JWT_PUBLIC_KEY_FILE").map(Path::of),
        value(env, "DELTASYNC_JWT_JWKS_FILE").map(Path::of),
        jwksUrl,
        value(env, "DELTASYNC_JWT_JWKS_CA_FILE").map(Path::of),
        value(env, "DELTASYNC_JWT_ISSUER"),
        value(env, "DELTASYNC_JWT_AUDIENCE"),
        Duration.ofSeconds(integer(env, "DELTASYNC_JWT_LEEWAY_SECONDS", 60, 0, 600)),
        value(env, "DELTASYNC_JWT_ROLES_CLAIM").orElse("roles"),
        value(env, "DELTASYNC_AUTH_RULES_FILE").map(Path::of),
        value(env, "DELTASYNC_API_KEYS_FILE").map(Path::of),
        reflection,
        Duration.ofSeconds(integer(env, "DELTASYNC_TOKEN_EXPIRY_WARNING_SECONDS", 60, 1, 3_600)),
        integer(env, "DELTASYNC_MAX_STREAMS_PER_PRINCIPAL", 64, 1, 100_000),
        integer(env, "DELTASYNC_MAX_PUSHES_PER_PRINCIPAL", 16, 1, 100_000),
        tls(env));
  }

  private static Tls tls(Map<String, String> env) {
    Optional<Path> cert = value(env, "DELTASYNC_TLS_CERT_FILE").map(Path::of);
    Optional<Path> key = value(env, "DELTASYNC_TLS_KEY_FILE").map(Path::of);
    Optional<Path> clientCa = value(env, "DELTASYNC_TLS_CLIENT_CA_FILE").map(Path::of);
    if (cert.isPresent() != key.isPresent()) {
      throw new IllegalArgumentException("DELTASYNC_TLS_CERT_FILE and DELTASYNC_TLS_KEY_FILE: only one is set "
          + "(expected: both, or neither)");
    }
    if (clientCa.isPresent() && cert.isEmpty()) {
      throw new IllegalArgumentException("DELTASYNC_TLS_CLIENT_CA_FILE: set without DELTASYNC_TLS_CERT_FILE "
          + "(expected: client certificates only with TLS)");
    }
    String plaintext = value(env, "DELTASYNC_ALLOW_PLAINTEXT").orElse("false").toLowerCase(Locale.ROOT);
    if (!plaintext.equals("true") && !plaintext.equals("false")) {
      throw new IllegalArgumentException("DELTASYNC_ALLOW_PLAINTEXT: '" + plaintext + "' (expected: true or false)");
    }
    return new Tls(cert, key, clientCa, plaintext.equals("true"));
  }

  private static Optional<String> value(Map<String, String> env, String name) {
    String value = env.get(name);
    return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
  }

  private static int integer(Map<String, String> env, String name, int fallback, int min, int max) {
    Optional<String> value = value(env, name);
    if (value.isEmpty()) {
      return fallback;
    }
    try {
      int parsed = Integer.parseInt(value.get());
      if (parsed >= min && parsed <= max) {
        return parsed;
      }
    } catch (NumberFormatException ignored) {
      // reported below, with the expected range
    }
    throw new IllegalArgumentException(name + ": '" + value.get() + "' (expected: an integer from " + min + " to "
        + max + ")");
  }

  @Override
  public String toString() {
    // Never print the secret.
    return "AuthSettings[mode=" + mode + ", hs256=" + hs256Secret.isPresent() + ", publicKeyFile=" + publicKeyFile
        + ", jwksFile=" + jwksFile + ", jwksUrl=" + jwksUrl + ", issuer=" + issuer + ", audience=" + audience + "]";
  }
}

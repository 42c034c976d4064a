package io.deltasync.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.text.ParseException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies signed JWTs with nimbus-jose-jwt: the signature (HS256 with the configured secret; RS*, PS*, ES* and EdDSA
 * (Ed25519, see {@link Ed25519Keys}) with
 * keys from a PEM file, a JWKS file, or an HTTPS JWKS URL fetched and cached by nimbus, refreshed when an
 * unknown key id arrives), then issuer, audience, {@code exp} (required) and {@code nbf} with the configured leeway.
 * Unsigned tokens ({@code alg: none}) are refused by nimbus; an HS256 token is only ever checked against the secret
 * (nimbus selects keys by type), never against a public key.
 */
final class TokenVerifier {
  private static final Logger log = LoggerFactory.getLogger(TokenVerifier.class);
  private static final Set<JWSAlgorithm> ASYMMETRIC = Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384,
      JWSAlgorithm.RS512, JWSAlgorithm.PS256, JWSAlgorithm.PS384, JWSAlgorithm.PS512, JWSAlgorithm.ES256,
      JWSAlgorithm.ES384, JWSAlgorithm.ES512, JWSAlgorithm.EdDSA, JWSAlgorithm.Ed25519);
  private static final int JWKS_TIMEOUT_MILLIS = 5_000;
  private static final int JWKS_SIZE_LIMIT = 512 * 1024;

  /** What a token turned out to be. */
  sealed interface Outcome permits Verified, Rejected {}

  /** A valid token and its claims. */
  record Verified(JWTClaimsSet claims) implements Outcome {}

  /** A token refused, and why (TOKEN_INVALID or TOKEN_EXPIRED). */
  record Rejected(AuthFailure failure) implements Outcome {}

  /** Thrown by the claims check for a token past exp + leeway (a signed, otherwise valid token). */
  private static final class Expired extends BadJWTException {
    private static final long serialVersionUID = 1L;

    Expired() {
      super("expired");
    }
  }

  private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
  private final boolean configured;

  TokenVerifier(AuthSettings settings, Clock clock) throws IOException, GeneralSecurityException {
    List<JWK> local = new ArrayList<>();
    Set<JWSAlgorithm> algorithms = new HashSet<>();
    if (settings.hs256Secret().isPresent()) {
      local.add(new OctetSequenceKey.Builder(settings.hs256Secret().get()).keyUse(KeyUse.SIGNATURE)
          .keyID("hs256").build());
      algorithms.add(JWSAlgorithm.HS256);
    }
    if (settings.publicKeyFile().isPresent()) {
      local.addAll(PublicKeys.parse(Files.readString(settings.publicKeyFile().get())));
      algorithms.addAll(ASYMMETRIC);
    }
    if (settings.jwksFile().isPresent()) {
      try {
        // Only the public parts: a JWKS file with private keys must not make the server able to sign.
        JWKSet.load(settings.jwksFile().get().toFile()).getKeys().stream()
            .filter(k -> !(k instanceof OctetSequenceKey))
            .map(JWK::toPublicJWK).forEach(local::add);
      } catch (ParseException e) {
        throw new IOException(settings.jwksFile().get() + ": not a JWKS (" + e.getMessage() + ")", e);
      }
      algorithms.addAll(ASYMMETRIC);
    }
    JWKSet localSet = new JWKSet(local);
    JWKSource<SecurityContext> remote = null;
    if (settings.jwksUrl().isPresent()) {
      DefaultResourceRetriever retriever = new DefaultResourceRetriever(JWKS_TIMEOUT_MILLIS, JWKS_TIMEOUT_MILLIS,
          JWKS_SIZE_LIMIT, true, settings.jwksCaFile().isPresent()
              ? trusting(settings.jwksCaFile().get()).getSocketFactory() : null);
      URL url = settings.jwksUrl().get().toURL();
      // nimbus's defaults: cached 5 minutes, refreshed ahead of expiry, re-fetched (rate-limited) when a token names
      // an unknown key id, i.e. when the provider rotates its keys.
      remote = JWKSourceBuilder.<SecurityContext>create(url, retriever).build();
      algorithms.addAll(ASYMMETRIC);
    }
    configured = !algorithms.isEmpty();
    JWKSource<SecurityContext> remoteSource = remote;
    JWKSource<SecurityContext> keys = (JWKSelector selector, SecurityContext context) -> {
      List<JWK> found = new ArrayList<>(selector.select(localSet));
      // The provider's set is asked for public keys only: a symmetric key it publishes is readable by anyone, so it
      // must never verify an HS256 token (whose secret is DELTASYNC_JWT_HS256_SECRET alone), as for the JWKS file;
      // and an HS256 token must not make the remote source look for a key it will never have (a refetch, then a
      // rate-limit error that would refuse the token).
      boolean symmetric = java.util.Set.of(com.nimbusds.jose.jwk.KeyType.OCT)
          .equals(selector.getMatcher().getKeyTypes());
      if (remoteSource != null && !symmetric) {
        remoteSource.get(selector, context).stream().filter(k -> !(k instanceof OctetSequenceKey)).forEach(found::add);
      }
      return found;
    };
    Set<JWSAlgorithm> accepted = algorithms.isEmpty() ? Set.of(JWSAlgorithm.HS256) : algorithms;
    // Ed25519 keys are selected and checked with the JDK (Ed25519Keys); every other algorithm by nimbus.
    processor.setJWSKeySelector(accepted.containsAll(Ed25519Keys.ALGORITHMS)
        ? Ed25519Keys.selector(keys, new JWSVerificationKeySelector<>(accepted, keys))
        : new JWSVerificationKeySelector<>(accepted, keys));
    processor.setJWSVerifierFactory(Ed25519Keys.verifiers());
    // Tokens are plain JWTs or "at+jwt" access tokens (RFC 9068); other types are refused.
    processor.setJWSTypeVerifier(new com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier<>(
        com.nimbusds.jose.JOSEObjectType.JWT, new com.nimbusds.jose.JOSEObjectType("at+jwt"), null));
    JWTClaimsSet.Builder exact = new JWTClaimsSet.Builder();
    settings.issuer().ifPresent(exact::issuer);
    DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(
        settings.audience().map(Set::of).orElse(null), exact.build(), Set.of("sub", "exp"), null);
    int leeway = (int) settings.leeway().toSeconds();
    claims.setMaxClockSkew(leeway);
    processor.setJWTClaimsSetVerifier((set, context) -> {
      // Checked first (the signature is already verified) so that an expired token is told apart as TOKEN_EXPIRED.
      if (set.getExpirationTime() != null
          && set.getExpirationTime().toInstant().plusSeconds(leeway).isBefore(clock.instant())) {
        throw new Expired();
      }
      claims.verify(set, context);
    });
  }

  /** Whether any way of verifying tokens is configured. */
  boolean configured() {
    return configured;
  }

  Outcome verify(String token) {
    try {
      return new Verified(processor.process(token, null));
    } catch (Expired e) {
      return new Rejected(AuthFailure.EXPIRED);
    } catch (KeySourceException e) {
      log.warn("Could not get the keys to verify a token: {}", e.getMessage());
      return new Rejected(AuthFailure.INVALID);
    } catch (ParseException | BadJOSEException | JOSEException | RuntimeException e) {
      log.debug("Token refused: {}", e.getMessage());
      return new Rejected(AuthFailure.INVALID);
    }
  }

  /** When a verified token expires, leeway included. */
  static Instant expiry(JWTClaimsSet claims, java.time.Duration leeway) {
    return claims.getExpirationTime().toInstant().plus(leeway);
  }

  private static SSLContext trusting(java.nio.file.Path caFile) throws IOException, GeneralSecurityException {
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    store.load(null, null);
    try (InputStream in = Files.newInputStream(caFile)) {
      int i = 0;
      for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + i++, certificate);
      }
    }
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    return context;
  }

}

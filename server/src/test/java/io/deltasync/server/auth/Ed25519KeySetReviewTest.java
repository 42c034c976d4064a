package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.Credentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of Ed25519Keys.selector: one unusable Ed25519 JWK in the key set (an x that is not 32 bytes: a provider's
 * typo, a truncated key) throws KeySourceException for the whole selection, so every Ed25519 token without a kid
 * is refused although the set holds its valid key. Other key types skip what they cannot use.
 */
class Ed25519KeySetReviewTest {
  @TempDir
  Path dir;

  @Test
  void anUnusableEd25519KeyInTheSetDoesNotRefuseTokensOfTheValidOne() throws Exception {
    java.security.KeyPair ed = java.security.KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    var valid = Ed25519Keys.jwk(ed.getPublic(), "ed-1");
    var truncated = new com.nimbusds.jose.jwk.OctetKeyPair.Builder(com.nimbusds.jose.jwk.Curve.Ed25519,
        com.nimbusds.jose.util.Base64URL.encode(new byte[31])).keyID("ed-old").build();
    Path jwks = dir.resolve("ed.jwks");
    Files.writeString(jwks, new com.nimbusds.jose.jwk.JWKSet(List.of(valid, truncated)).toString());
    TokenVerifier verifier = new TokenVerifier(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_JWT_JWKS_FILE", jwks.toString())), Clock.systemUTC());
    var good = claims("alice", List.of("writer"), List.of("a")).build();

    assertThat(verifier.verify(Credentials.ed25519(good, ed, "EdDSA", "ed-1")))
        .isInstanceOf(TokenVerifier.Verified.class);
    TokenVerifier.Outcome kidless;
    try {
      kidless = verifier.verify(Credentials.ed25519(good, ed, "EdDSA", null));
    } catch (RuntimeException e) {
      throw new AssertionError("verify threw for a kid-less token of a valid key", e);
    }
    assertThat(kidless).isInstanceOf(TokenVerifier.Verified.class);
  }
}

package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.Credentials;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which signed tokens the verifier takes: public-key algorithms only against public keys, never HMAC with them. */
class TokenVerifierTest {
  @TempDir
  Path dir;

  @Test
  void withOnlyPublicKeysNoHs256TokenIsAccepted() throws Exception {
    Path keys = Credentials.publicKeyFile(dir);
    TokenVerifier verifier = new TokenVerifier(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_JWT_PUBLIC_KEY_FILE", keys.toString())), Clock.systemUTC());
    var good = claims("alice", List.of("writer"), List.of("a")).build();

    assertThat(verifier.verify(Credentials.rs256(good, Credentials.RSA, null)))
        .isInstanceOf(TokenVerifier.Verified.class);
    assertThat(verifier.verify(Credentials.es256(good))).isInstanceOf(TokenVerifier.Verified.class);
    for (byte[] key : List.of(Files.readString(keys).getBytes(StandardCharsets.US_ASCII),
        Credentials.RSA.getPublic().getEncoded())) {
      assertThat(verifier.verify(Credentials.hs256(good, key)))
          .isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
    }
    assertThat(verifier.verify(Credentials.unsigned(good))).isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
    assertThat(verifier.verify("not.a.token")).isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
  }

  @Test
  void ed25519TokensAreVerifiedWithKeysFromPemOrJwksAndForgeriesAreRefused() throws Exception {
    java.security.KeyPair ed = java.security.KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    java.security.KeyPair other = java.security.KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Path pem = dir.resolve("ed.pem");
    Files.writeString(pem, Credentials.pem(ed.getPublic()));
    Path jwks = dir.resolve("ed.jwks");
    Files.writeString(jwks, new com.nimbusds.jose.jwk.JWKSet(Ed25519Keys.jwk(ed.getPublic(), "ed-1")).toString());
    var good = claims("alice", List.of("writer"), List.of("a")).build();

    for (Map<String, String> source : List.of(Map.of("DELTASYNC_JWT_PUBLIC_KEY_FILE", pem.toString()),
        Map.of("DELTASYNC_JWT_JWKS_FILE", jwks.toString()))) {
      var env = new java.util.HashMap<>(source);
      env.put("DELTASYNC_AUTH", "token");
      TokenVerifier verifier = new TokenVerifier(AuthSettings.from(env), Clock.systemUTC());
      for (String alg : List.of("EdDSA", "Ed25519")) {
        assertThat(verifier.verify(Credentials.ed25519(good, ed, alg, null))).as("%s %s", source, alg)
            .isInstanceOf(TokenVerifier.Verified.class);
      }
      String token = Credentials.ed25519(good, ed, "EdDSA", null);
      String tampered = token.substring(0, token.lastIndexOf('.') + 1)
          + new StringBuilder(token.substring(token.lastIndexOf('.') + 1)).reverse();
      assertThat(verifier.verify(tampered)).isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
      assertThat(verifier.verify(Credentials.ed25519(good, other, "EdDSA", null)))
          .isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
      var forged = Credentials.with(claims("alice", List.of("admin"), List.of("*")), b -> b);
      String signedByOther = Credentials.ed25519(forged, other, "Ed25519", "ed-1");
      assertThat(verifier.verify(signedByOther)).isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
    }
    // A server with only an HS256 secret takes no Ed25519 token.
    TokenVerifier hmacOnly = new TokenVerifier(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET)), Clock.systemUTC());
    assertThat(hmacOnly.verify(Credentials.ed25519(good, ed, "EdDSA", null)))
        .isEqualTo(new TokenVerifier.Rejected(AuthFailure.INVALID));
  }
}

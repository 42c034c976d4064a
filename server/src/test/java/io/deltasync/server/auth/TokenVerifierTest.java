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

/** A server that only has public keys accepts no HMAC token at all, whatever it is keyed with. */
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
}

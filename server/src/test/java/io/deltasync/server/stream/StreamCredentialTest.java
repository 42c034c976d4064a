package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.auth.Authenticator;
import io.deltasync.server.auth.Permission;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.store.ScopeSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A push on an open stream is checked against the credential as it stands at that moment, not as it was opened. */
class StreamCredentialTest {
  @TempDir
  Path dir;

  private static Principal token(Instant expiresAt) {
    return new Principal(Principal.Kind.TOKEN, "alice", "issuer", Set.of("writer"), EnumSet.allOf(Permission.class),
        ScopeSet.ALL, ScopeSet.ALL, Optional.of(expiresAt));
  }

  @Test
  void aPushAfterTheTokenExpiredIsRefusedEvenBeforeTheStreamIsEnded() throws Exception {
    Instant now = Instant.parse("2026-12-01T00:00:00Z");
    Authenticator authenticator = Authenticator.create(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_JWT_HS256_SECRET", "a-secret-of-at-least-thirty-two-bytes-long")), Clock.systemUTC());
    Clock clock = Clock.fixed(now, ZoneOffset.UTC);

    assertThat(new StreamCredential(token(now.plusSeconds(1)), authenticator, Duration.ofSeconds(60), clock)
        .mayPush().id()).isEqualTo("alice");
    assertThatThrownBy(() -> new StreamCredential(token(now), authenticator, Duration.ofSeconds(60), clock).mayPush())
        .isInstanceOfSatisfying(DeltaSyncException.class, e -> assertThat(e.getMessage()).contains("no longer valid"));
  }

  @Test
  void aWithdrawnApiKeyNoLongerPushesAndEndsItsStream() throws Exception {
    Path keys = dir.resolve("keys.json");
    String digest = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("the-key".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    Files.writeString(keys, "{\"keys\": [{\"name\": \"ingest\", \"sha256\": \"" + digest
        + "\", \"roles\": [\"writer\"], \"read\": [\"*\"], \"write\": [\"*\"]}]}");
    Authenticator authenticator = Authenticator.create(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_API_KEYS_FILE", keys.toString())), Clock.systemUTC());
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(io.grpc.Metadata.Key.of("x-api-key", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "the-key");
    Principal ingest = ((Authenticator.Authenticated) authenticator.authenticate(headers)).principal();
    StreamCredential credential = new StreamCredential(ingest, authenticator, Duration.ofSeconds(60),
        Clock.systemUTC());
    assertThat(credential.mayPush().id()).isEqualTo("ingest");

    Files.writeString(keys, "{\"keys\": []}");
    awaitReload(authenticator, ingest);
    assertThatThrownBy(credential::mayPush).isInstanceOf(DeltaSyncException.class);
    assertThat(credential.checkExpiry()).isInstanceOf(StreamCredential.Expired.class);
  }

  private static void awaitReload(Authenticator authenticator, Principal principal) throws InterruptedException {
    for (int i = 0; i < 500 && authenticator.current(principal).isPresent(); i++) {
      Thread.sleep(20);  // the key file is checked at most every so often
    }
    assertThat(authenticator.current(principal)).as("the key file was read again").isEmpty();
  }
}

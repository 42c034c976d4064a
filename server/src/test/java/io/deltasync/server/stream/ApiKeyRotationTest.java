package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.auth.Authenticator;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.error.DeltaSyncException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review: Authenticator.current / ApiKeys.named look an open stream's API key up by NAME. Rotating a leaked key (same
 * name, new sha256) leaves every stream opened with the leaked secret able to push and never ends it.
 */
class ApiKeyRotationTest {
  @TempDir
  Path dir;

  private static String sha256(String key) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  private static Authenticator.Result present(Authenticator authenticator, String key) {
    io.grpc.Metadata headers = new io.grpc.Metadata();
    headers.put(io.grpc.Metadata.Key.of("x-api-key", io.grpc.Metadata.ASCII_STRING_MARSHALLER), key);
    return authenticator.authenticate(headers);
  }

  @Test
  void aRotatedKeysOldSecretNoLongerPushesOnItsOpenStream() throws Exception {
    Path keys = dir.resolve("keys.json");
    Files.writeString(keys, "{\"keys\": [{\"name\": \"ingest\", \"sha256\": \"" + sha256("leaked-secret")
        + "\", \"roles\": [\"writer\"], \"read\": [\"*\"], \"write\": [\"*\"]}]}");
    Authenticator authenticator = Authenticator.create(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_API_KEYS_FILE", keys.toString())), Clock.systemUTC());
    Principal leaked = ((Authenticator.Authenticated) present(authenticator, "leaked-secret")).principal();
    // As SyncSessions opens it: with the digest of the secret the call presented (the interceptor's context).
    StreamCredential credential = new StreamCredential(leaked, authenticator, Duration.ofSeconds(60),
        Clock.systemUTC(), java.util.Optional.of(sha256("leaked-secret")));

    // The operator rotates the key: same name, new secret (a bit longer file, so the size check sees it).
    Files.writeString(keys, "{\"keys\": [{\"name\": \"ingest\", \"sha256\": \"" + sha256("fresh-secret")
        + "\", \"roles\": [\"writer\"], \"read\": [\"*\"], \"write\": [\"*\"]}]}   ");
    while (present(authenticator, "leaked-secret") instanceof Authenticator.Authenticated) {
      Thread.sleep(20);  // until the key file is read again: the leaked secret opens nothing new
    }
    assertThat(present(authenticator, "fresh-secret")).isInstanceOf(Authenticator.Authenticated.class);

    assertThatThrownBy(credential::mayPush).as("a push on the stream opened with the rotated-out secret")
        .isInstanceOf(DeltaSyncException.class);
    assertThat(credential.checkExpiry()).isInstanceOf(StreamCredential.Expired.class);
  }

  /**
   * StreamCredential.checkExpiry ends an API key's stream only when the key is gone or its readable scopes changed;
   * a key whose roles no longer grant sync:read (same scopes) keeps its stream, which keeps delivering changes.
   */
  @Test
  void aKeyThatLostSyncReadNoLongerReadsOnItsOpenStream() throws Exception {
    Path keys = dir.resolve("keys.json");
    Files.writeString(keys, "{\"keys\": [{\"name\": \"reader\", \"sha256\": \"" + sha256("reader-secret")
        + "\", \"roles\": [\"writer\"], \"read\": [\"inbox\"], \"write\": [\"inbox\"]}]}");
    Authenticator authenticator = Authenticator.create(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_API_KEYS_FILE", keys.toString())), Clock.systemUTC());
    Principal reader = ((Authenticator.Authenticated) present(authenticator, "reader-secret")).principal();
    assertThat(reader.has(io.deltasync.server.auth.Permission.SYNC_READ)).isTrue();
    StreamCredential credential = new StreamCredential(reader, authenticator, Duration.ofSeconds(60),
        Clock.systemUTC());

    // The operator takes every role away (no sync:read, no sync:write); the scopes stay as they were.
    Files.writeString(keys, "{\"keys\": [{\"name\": \"reader\", \"sha256\": \"" + sha256("reader-secret")
        + "\", \"roles\": [], \"read\": [\"inbox\"], \"write\": [\"inbox\"]}]}");
    while (authenticator.current(reader).orElseThrow().has(io.deltasync.server.auth.Permission.SYNC_READ)) {
      Thread.sleep(20);  // until the key file is read again
    }
    assertThat(credential.checkExpiry()).as("the check of a stream whose key lost sync:read")
        .isNotInstanceOf(StreamCredential.Fine.class);
  }
}

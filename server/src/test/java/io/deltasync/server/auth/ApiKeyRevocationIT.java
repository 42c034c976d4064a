package io.deltasync.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review (adversarial): an API key removed from the keys file keeps working on a Sync stream opened before. */
class ApiKeyRevocationIT {
  private static final String KEY = "revoked-key-0123456789abcdef0123456789abcdef";
  private static final Path FILE;

  static {
    try {
      FILE = Files.createTempDirectory("review-revoke").resolve("keys.json");
      Files.writeString(FILE, """
          {"keys": [{"name": "sensor", "sha256": "%s", "roles": ["writer"], "read": ["plant"], "write": ["plant"]}]}
          """.formatted(ApiKeys.sha256(KEY)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withAuth(
      AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_API_KEYS_FILE", FILE.toString()))));

  @Test
  void aRemovedKeyNoLongerWritesOnItsOpenStream() throws Exception {
    try (StreamClient stream = new StreamClient(Credentials.apiKey(server.channel(), KEY))) {
      stream.hello("sensor-1", "");
      stream.awaitLive();

      // The key is withdrawn (the leaked-key response docs/security.md gives).
      Files.writeString(FILE, "{\"keys\": []}\n");
      Files.setLastModifiedTime(FILE, FileTime.from(Instant.now().plusSeconds(10)));
      Status unary = Status.OK;
      for (int attempt = 0; attempt < 600 && unary.isOk(); attempt++) {
        try {
          SyncServiceGrpc.newBlockingStub(Credentials.apiKey(server.channel(), KEY))
              .withDeadlineAfter(60, TimeUnit.SECONDS).pull(PullRequest.getDefaultInstance());
          Thread.sleep(100);
        } catch (StatusRuntimeException e) {
          unary = e.getStatus();
        }
      }
      assertThat(unary.getCode()).as("the server saw the key withdrawn").isEqualTo(Status.Code.UNAUTHENTICATED);

      stream.push("after-revocation", Deltas.create("after-revocation", Deltas.doc("v", "1")).toBuilder()
          .setScope("plant").build());
      SyncResponse answer = stream.await(m -> m.hasPushResults() || m.hasError(), "an answer to the push");
      assertThat(server.sql().fetchCount(server.sql().selectFrom("entity")
          .where("entity_id = 'after-revocation'")))
          .as("written with a withdrawn API key on a stream opened before; answer: %s", answer)
          .isZero();
    }
  }
}

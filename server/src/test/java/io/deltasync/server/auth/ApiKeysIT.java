package io.deltasync.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
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

/** Static API keys for services: stored hashed, scoped by their entry, reloaded when the file changes. */
class ApiKeysIT {
  private static final String REPLICATOR = "replicator-key-0123456789abcdef0123456789";
  private static final String REPORTING = "reporting-key-0123456789abcdef0123456789";
  private static final Path FILE;
  private static int writes;

  static {
    try {
      FILE = Files.createTempDirectory("api-keys").resolve("keys.json");
      write("""
          {"keys": [{"name": "replicator", "sha256": "%s", "roles": ["writer"], "read": ["*"], "write": ["*"]}]}
          """.formatted(ApiKeys.sha256(REPLICATOR)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void write(String json) throws IOException {
    Files.writeString(FILE, json);
    // A distinct modification time, whatever the file system's resolution.
    Files.setLastModifiedTime(FILE, FileTime.from(Instant.now().plusSeconds(5L * ++writes)));
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withAuth(
      AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_API_KEYS_FILE", FILE.toString()))));

  private static SyncServiceGrpc.SyncServiceBlockingStub as(String key) {
    return SyncServiceGrpc.newBlockingStub(Credentials.apiKey(server.channel(), key))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  @Test
  void aKeyActsWithItsRolesAndScopesAndTheFileIsReadAgainWhenItChanges() throws Exception {
    assertThat(as(REPLICATOR).push(PushRequest.newBuilder().setClientId("replica")
        .addDeltas(Deltas.create("replicated", Deltas.doc("v", "1")).toBuilder().setScope("anywhere")).build())
        .getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThatThrownBy(() -> as(REPORTING).pull(PullRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
          assertThat(e.getStatus().getDescription()).isEqualTo("the credential is not valid");
        });
    assertThat(Files.readString(FILE)).doesNotContain(REPLICATOR);

    // A new key, read-only in one scope; the replicator's key is withdrawn.
    write("""
        {"keys": [{"name": "reporting", "sha256": "%s", "roles": ["reader"], "read": ["anywhere"]}]}
        """.formatted(ApiKeys.sha256(REPORTING)));
    Status replicator = Status.OK;
    // The file is checked at most once a second: ask until the change is seen.
    for (int attempt = 0; attempt < 600 && replicator.isOk(); attempt++) {
      try {
        as(REPLICATOR).pull(PullRequest.getDefaultInstance());
        Thread.sleep(100);
      } catch (StatusRuntimeException e) {
        replicator = e.getStatus();
      }
    }
    assertThat(replicator.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(as(REPORTING).pull(PullRequest.getDefaultInstance()).getChangesList())
        .extracting(c -> c.getEntity().getEntityId()).containsExactly("replicated");
    assertThatThrownBy(() -> as(REPORTING).push(PushRequest.newBuilder().setClientId("r")
        .addDeltas(Deltas.create("nope", Deltas.doc("v", "1"))).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
  }
}

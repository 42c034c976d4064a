package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review (adversarial): scope isolation and credential lifetime holes. */
class CredentialBoundariesIT {
  private static final String OWNER = "owner-key-0123456789abcdef0123456789abcdef";
  private static final String INGEST = "ingest-key-0123456789abcdef0123456789abcdef";
  private static final Path KEYS;

  static {
    try {
      KEYS = Files.createTempDirectory("review-keys").resolve("keys.json");
      // The owner reads and writes 'inbox'; the ingest service may only WRITE 'inbox' (a drop box), never read it.
      Files.writeString(KEYS, """
          {"keys": [
            {"name": "owner", "sha256": "%s", "roles": ["writer"], "read": ["inbox"], "write": ["inbox"]},
            {"name": "ingest", "sha256": "%s", "roles": ["writer"], "write": ["inbox"]}
          ]}
          """.formatted(ApiKeys.sha256(OWNER), ApiKeys.sha256(INGEST)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET,
          "DELTASYNC_JWT_LEEWAY_SECONDS", "0", "DELTASYNC_API_KEYS_FILE", KEYS.toString())))
      // Heartbeats once an hour (a documented, accepted setting: DELTASYNC_HEARTBEAT_SECONDS up to 3600).
      .withStream(new ServerConfig.Stream(Duration.ofHours(1), 1_000, Duration.ofMillis(100)))
      .withConflicts(ConflictPolicy.CONFLICT_POLICY_MANUAL, config.conflicts()));

  private static SyncServiceGrpc.SyncServiceBlockingStub key(String key) {
    return SyncServiceGrpc.newBlockingStub(Credentials.apiKey(server.channel(), key))
        .withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private static Delta inbox(Delta delta) {
    return delta.toBuilder().setScope("inbox").build();
  }

  /**
   * A credential that may write a scope but not read it must not learn that scope's data. The push result of a
   * conflicting delta carries the server's current entity (document included) to the write-only caller.
   */
  @Test
  void aWriteOnlyCredentialNeverReadsTheScopeThroughPushResults() {
    var owner = key(OWNER);
    assertThat(owner.push(PushRequest.newBuilder().setClientId("owner-app")
        .addDeltas(inbox(Deltas.create("rec-1", Deltas.doc("secret", "owner-only-text")))).build())
        .getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    var ingest = key(INGEST);
    // Sanity: the ingest key reads nothing of 'inbox'.
    assertThat(ingest.pull(PullRequest.getDefaultInstance()).getChangesList()).isEmpty();

    // It writes a stale update (base 0) and a create of an existing id: both conflict.
    List<DeltaResult> results = ingest.push(PushRequest.newBuilder().setClientId("ingest-job")
        .addDeltas(inbox(Deltas.update("rec-1", 7, Deltas.doc("note", "x"))))
        .addDeltas(inbox(Deltas.create("rec-1", Deltas.doc("note", "y")))).build()).getResultsList();

    for (DeltaResult result : results) {
      assertThat(result.getEntity().getData().toString())
          .as("push result %s (%s) returned to a write-only credential", result.getStatus(), result.getDeltaId())
          .doesNotContain("owner-only-text");
    }
  }

  /**
   * A Sync stream whose token has expired must not keep writing, even with DELTASYNC_HEARTBEAT_SECONDS=3600 (the
   * expiry was once only checked at heartbeat ticks, so an expired token pushed for up to an hour).
   */
  @Test
  void anExpiredTokenCannotPushOnAnOpenStream() throws Exception {
    // Long enough for the stream to open on a busy machine (a precondition, not a bound on the server).
    Instant expires = Instant.now().plusSeconds(6);
    String token = Credentials.hs256(claims("mallory", List.of("writer"), List.of("m"))
        .expirationTime(Date.from(expires)).build());
    Channel channel = Credentials.bearer(server.channel(), token);
    try (StreamClient stream = new StreamClient(channel)) {
      stream.hello("mallory-phone", "");
      stream.awaitLive();
      // Wait (not a bound: a precondition) until the token is expired, leeway 0.
      while (!Instant.now().isAfter(expires.plusSeconds(1))) {
        Thread.sleep(200);
      }
      stream.push("after-expiry", Deltas.create("written-after-expiry", Deltas.doc("v", "1")).toBuilder()
          .setScope("m").build());
      // The stream is ended within a second of the expiry (credentials are checked every second, whatever the
      // heartbeat interval); a push that races that check is refused by the push's own check of the credential.
      io.grpc.Status ended = stream.awaitEnd();
      assertThat(ended.getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED);
      assertThat(ended.getDescription()).contains("expired");
      assertThat(server.sql().fetchCount(server.sql().selectFrom("entity")
          .where("entity_id = 'written-after-expiry'")))
          .as("entity written by a push on a stream whose token expired")
          .isZero();
    }
  }

  /**
   * GetStatus needs only sync:read, and is documented to count only what the caller may read. It also reports
   * sessions_by_phase: every Sync stream on the node, of every tenant, to a caller that reads nothing at all.
   */
  @Test
  void getStatusDoesNotCountOtherPrincipalsStreams() {
    try (StreamClient ownerStream = new StreamClient(Credentials.apiKey(server.channel(), OWNER))) {
      ownerStream.hello("owner-phone", "");
      ownerStream.awaitLive();
      var status = key(INGEST).getStatus(io.deltasync.v1.GetStatusRequest.getDefaultInstance());
      long streams = status.getSessionsByPhaseMap().values().stream().mapToLong(Integer::longValue).sum();
      assertThat(streams).as("Sync streams of other principals reported to the ingest key: %s",
          status.getSessionsByPhaseMap()).isZero();
    }
  }
}

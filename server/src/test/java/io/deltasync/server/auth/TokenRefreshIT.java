package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.SyncTokenRefresh;
import io.grpc.Channel;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Tokens on a long-lived Sync stream: refreshed in place, narrowed at once, and never left to expire silently. */
class TokenRefreshIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET, "DELTASYNC_JWT_LEEWAY_SECONDS", "0")))
      .withStream(new ServerConfig.Stream(Duration.ofSeconds(2), 1_000, Duration.ofMillis(100))));

  private static String token(String sub, List<String> scopes, Duration validFor) {
    return Credentials.hs256(claims(sub, List.of("writer"), scopes)
        .expirationTime(Date.from(Instant.now().plus(validFor))).build());
  }

  private static Channel as(String token) {
    return Credentials.bearer(server.channel(), token);
  }

  private static void write(String scope, String id) {
    SyncServiceGrpc.newBlockingStub(as(token("writer-" + scope, List.of(scope), Duration.ofHours(1))))
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .push(PushRequest.newBuilder().setClientId("writer").addDeltas(Deltas.create(id, Deltas.doc("v", id))
            .toBuilder().setScope(scope)).build());
  }

  private static SyncRequest refresh(String token) {
    return SyncRequest.newBuilder().setTokenRefresh(SyncTokenRefresh.newBuilder().setToken(token)).build();
  }

  @Test
  void aRefreshWithFewerScopesStopsTheirDeliveryAtOnce() throws Exception {
    try (StreamClient stream = new StreamClient(as(token("alice", List.of("keep", "lose"), Duration.ofHours(1))))) {
      stream.hello("alice-phone", "");
      stream.awaitLive();
      write("lose", "lose-before");
      stream.await(m -> m.hasChanges() && m.getChanges().getChangesList().stream()
          .anyMatch(c -> c.getEntity().getEntityId().equals("lose-before")), "a change of 'lose'");

      // Changes of 'lose' keep coming while the refresh is on its way.
      AtomicBoolean writing = new AtomicBoolean(true);
      CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
        for (int i = 0; writing.get(); i++) {
          write("lose", "lose-during-" + i);
        }
      });
      stream.send(refresh(token("alice", List.of("keep"), Duration.ofHours(1))));
      SyncResponse accepted = stream.await(SyncResponse::hasTokenAccepted, "token accepted");
      assertThat(accepted.getTokenAccepted().hasExpiresAt()).isTrue();
      int acceptedAt = stream.changes().size();
      write("keep", "keep-after");
      stream.await(m -> m.hasChanges() && m.getChanges().getChangesList().stream()
          .anyMatch(c -> c.getEntity().getEntityId().equals("keep-after")), "the change of 'keep'");
      writing.set(false);
      writer.get(60, TimeUnit.SECONDS);

      List<Change> after = stream.changes().subList(acceptedAt, stream.changes().size());
      assertThat(after).extracting(c -> c.getEntity().getScope()).containsOnly("keep");
      stream.assertOpen();
    }
  }

  @Test
  void anUnrenewedTokenIsAnnouncedThenEndsTheStreamWithTokenExpired() {
    try (StreamClient stream = new StreamClient(as(token("bob", List.of("b"), Duration.ofSeconds(3))))) {
      stream.hello("bob-phone", "");
      SyncResponse warning = stream.await(SyncResponse::hasTokenExpiring, "the expiry warning");
      assertThat(warning.getTokenExpiring().getExpiresAt().getSeconds()).isPositive();

      Status end = stream.awaitEnd();

      assertThat(end.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(end.getDescription()).contains("token expired");
    }
  }

  @Test
  void aRefreshedStreamOutlivesItsFirstToken() {
    Instant firstExpiry = Instant.now().plusSeconds(3);
    try (StreamClient stream = new StreamClient(as(token("carol", List.of("c"), Duration.ofSeconds(3))))) {
      stream.hello("carol-phone", "");
      stream.await(SyncResponse::hasTokenExpiring, "the expiry warning");
      stream.send(refresh(token("carol", List.of("c"), Duration.ofHours(1))));
      stream.await(SyncResponse::hasTokenAccepted, "token accepted");
      // Heartbeats go on until 2 s past the first token's expiry (credentials are checked every second):
      // the stream is still open.
      int heartbeats = 0;
      while (heartbeats < 2 || !Instant.now().isAfter(firstExpiry.plusSeconds(2))) {
        stream.await(SyncResponse::hasHeartbeat, "heartbeat " + heartbeats++);
        stream.send(SyncRequest.newBuilder().setHeartbeat(SyncHeartbeat.getDefaultInstance()).build());
      }
      stream.assertOpen();
    }
  }

  @Test
  void aBadOrForeignRefreshIsRefusedAndTheStreamGoesOn() {
    try (StreamClient stream = new StreamClient(as(token("dave", List.of("d"), Duration.ofHours(1))))) {
      stream.hello("dave-phone", "");
      stream.awaitLive();
      List<String> reasons = new ArrayList<>();
      for (String token : List.of("not-a-token", token("mallory", List.of("d"), Duration.ofHours(1)),
          token("dave", List.of("d"), Duration.ofSeconds(-5)))) {
        stream.send(refresh(token));
        SyncResponse error = stream.await(SyncResponse::hasError, "refusal");
        reasons.add(reason(error.getError().getStatus()));
      }
      assertThat(reasons).containsExactly("TOKEN_INVALID", "PERMISSION_DENIED", "TOKEN_EXPIRED");
      stream.assertOpen();
    }
  }

  private static String reason(com.google.rpc.Status status) {
    return status.getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).map(d -> {
      try {
        return d.unpack(ErrorInfo.class).getReason();
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    }).findFirst().orElse("");
  }
}

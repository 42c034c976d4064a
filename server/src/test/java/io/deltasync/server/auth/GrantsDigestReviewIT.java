package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Review of V18 grants_digest (SyncSession.hello / refresh, StreamCredential.digestOf). */
class GrantsDigestReviewIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET))));

  private static Channel as(String sub, List<String> scopes) {
    return Credentials.bearer(server.channel(), Credentials.hs256(claims(sub, List.of("writer"), scopes).build()));
  }

  private static void write(String scope, String id) {
    SyncServiceGrpc.newBlockingStub(as("writer-" + scope, List.of(scope))).withDeadlineAfter(60, TimeUnit.SECONDS)
        .push(PushRequest.newBuilder().setClientId("writer").addDeltas(Deltas.create(id, Deltas.doc("v", id))
            .toBuilder().setScope(scope)).build());
  }

  private static void awaitEntity(StreamClient stream, String id) {
    stream.await(m -> m.hasChanges() && m.getChanges().getChangesList().stream()
        .anyMatch(c -> c.getEntity().getEntityId().equals(id)), "the change of " + id);
  }

  /**
   * A WIDENING token refresh records the wider digest (SyncSession.refresh records on any difference), so the
   * stream, whose cursor moved past the added scope's earlier changes, and every later resume under the wider token
   * is never told to resync: the added scope's existing entities never arrive.
   */
  @Test
  void aScopeAddedByARefreshOnTheStreamStartsWithItsCurrentStateAtTheNextResume() {
    write("w-added", "w-existing-before");
    String cursor;
    try (StreamClient stream = new StreamClient(as("carol", List.of("w-kept")))) {
      stream.hello("carol-phone", "");
      stream.awaitLive();
      stream.send(io.deltasync.v1.SyncRequest.newBuilder().setTokenRefresh(io.deltasync.v1.SyncTokenRefresh
          .newBuilder().setToken(Credentials.hs256(claims("carol", List.of("writer"), List.of("w-kept", "w-added"))
              .build()))).build());
      stream.await(SyncResponse::hasTokenAccepted, "token accepted");
      write("w-kept", "w-kept-1");
      awaitEntity(stream, "w-kept-1");
      cursor = stream.cursor();
    }
    try (StreamClient again = new StreamClient(as("carol", List.of("w-kept", "w-added")))) {
      again.hello("carol-phone", cursor);
      again.awaitLive();
      write("w-kept", "w-kept-2");
      awaitEntity(again, "w-kept-2");
      assertThat(again.changes()).extracting(Change::getEntity).extracting(e -> e.getEntityId())
          .as("the scope the refresh added, existing before it").contains("w-existing-before");
    }
  }

  /**
   * Clean-up purges client_sync_status rows (DELTASYNC_CLEANUP_CLIENT_STATUS_DAYS, allowed below the change-log
   * retention) and the grants digest with them; SyncSession.hello only resyncs when a digest is present, so a client
   * that was offline past the status retention resumes under new grants without resync and never receives the
   * gained scope's existing entities.
   */
  @Test
  void aPurgedClientStatusDoesNotLetAResumeUnderOtherGrantsSkipResync() {
    write("p-added", "p-existing-before");
    String cursor;
    try (StreamClient stream = new StreamClient(as("erin", List.of("p-kept")))) {
      stream.hello("erin-phone", "");
      stream.awaitLive();
      write("p-kept", "p-kept-1");
      awaitEntity(stream, "p-kept-1");
      cursor = stream.cursor();
    }
    // Ten days later, clean-up with status rows kept 7 days and the change log kept 30 (as another node runs it).
    org.jooq.DSLContext sql = server.sql();
    new io.deltasync.server.ops.Cleanup(new io.deltasync.server.store.CleanupStore(sql),
        new io.deltasync.server.store.SyncStore(sql), () -> server.database().dataSource().getConnection(),
        new io.deltasync.server.ops.Cleanup.Retention(java.time.Duration.ofDays(30), java.time.Duration.ofDays(30),
            java.time.Duration.ofDays(30), java.time.Duration.ofDays(7), java.time.Duration.ofDays(30)), 1000,
        java.time.Clock.offset(java.time.Clock.systemUTC(), java.time.Duration.ofDays(10)),
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry()).run(false);
    assertThat(sql.fetchOne("SELECT count(*) FROM client_sync_status WHERE client_id LIKE '%erin-phone'"
        + " AND grants_digest IS NOT NULL").get(0, Long.class)).as("digest purged with the status row").isZero();
    try (StreamClient again = new StreamClient(as("erin", List.of("p-kept", "p-added")))) {
      again.hello("erin-phone", cursor);
      again.awaitLive();
      write("p-kept", "p-kept-2");
      awaitEntity(again, "p-kept-2");
      assertThat(again.changes()).extracting(Change::getEntity).extracting(e -> e.getEntityId())
          .as("the gained scope's existing entity").contains("p-existing-before");
    }
  }

  /**
   * SyncSession.hello records the new digest before the client has heard the resync it decided on. If the stream
   * drops before the ResyncRequired message reaches the client (a network cut, the app killed), the client still
   * holds its old cursor; its next hello under the same new grants finds a matching digest and resumes without
   * resync: the gained scope's existing entities never arrive.
   */
  @Test
  void aResyncTheClientNeverHeardIsNotForgotten() throws InterruptedException {
    write("r-added", "r-existing-before");
    String cursor;
    try (StreamClient stream = new StreamClient(as("frank", List.of("r-kept")))) {
      stream.hello("frank-phone", "");
      stream.awaitLive();
      write("r-kept", "r-kept-1");
      awaitEntity(stream, "r-kept-1");
      cursor = stream.cursor();
    }
    String digestQuery = "SELECT grants_digest FROM client_sync_status WHERE client_id LIKE '%~frank-phone'";
    String before = server.sql().fetchOne(digestQuery).get(0, String.class);
    // The new token's stream: the hello arrives, the client reads nothing, and the connection is lost.
    try (StreamClient lost = new StreamClient(as("frank", List.of("r-kept", "r-added")), false)) {
      lost.hello("frank-phone", cursor);
      // Give the server the hello (the digest is now recorded only at the first ack after a resync, so it does not
      // change here; before the fix it did, at once). Either way the next hello below must resync.
      long give = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(3);
      while (before.equals(server.sql().fetchOne(digestQuery).get(0, String.class)) && System.nanoTime() < give) {
        Thread.sleep(10);
      }
    }
    try (StreamClient again = new StreamClient(as("frank", List.of("r-kept", "r-added")))) {
      again.hello("frank-phone", cursor);
      again.awaitLive();
      write("r-kept", "r-kept-2");
      awaitEntity(again, "r-kept-2");
      assertThat(again.changes()).extracting(Change::getEntity).extracting(e -> e.getEntityId())
          .as("the gained scope's existing entity").contains("r-existing-before");
    }
  }
}

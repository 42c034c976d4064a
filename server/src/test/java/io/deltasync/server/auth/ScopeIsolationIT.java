package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChecksumRequest;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two tenants writing at the same time: neither ever receives a change, conflict or count of the other's scopes, on
 * any read path (Sync initial state, catch-up and live; Pull; ListConflicts; GetStatus; checksums), even when it asks
 * for everything.
 */
class ScopeIsolationIT {
  private static final int BEFORE = 30;
  private static final int DURING = 60;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET)))
      .withConflicts(ConflictPolicy.CONFLICT_POLICY_MANUAL, config.conflicts()));

  private static Channel as(String sub, String scope) {
    return Credentials.bearer(server.channel(), Credentials.hs256(
        claims(sub, List.of("writer"), List.of(scope)).build()));
  }

  private static SyncServiceGrpc.SyncServiceBlockingStub stub(Channel channel) {
    return SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private static Delta create(String scope, String id) {
    return Deltas.create(id, Deltas.doc("v", id)).toBuilder().setScope(scope).build();
  }

  private static void writeMany(Channel channel, String scope, String prefix, int count) {
    for (int i = 0; i < count; i++) {
      assertThat(stub(channel).push(PushRequest.newBuilder().setClientId("writer-" + scope)
          .addDeltas(create(scope, prefix + i)).build()).getResults(0).getStatus())
          .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    }
  }

  @Test
  void twoTenantsWritingAtOnceNeverSeeEachOther() throws Exception {
    Channel alice = as("alice", "tenant-a");
    Channel bob = as("bob", "tenant-b");
    String start = stub(alice).getStatus(GetStatusRequest.getDefaultInstance()).getServerCursor();
    writeMany(alice, "tenant-a", "a-before-", BEFORE);
    writeMany(bob, "tenant-b", "b-before-", BEFORE);

    // Alice asks for everything (initial state), and catches up from before either tenant wrote; Bob likewise.
    try (StreamClient aliceInitial = new StreamClient(alice);
        StreamClient aliceCatchUp = new StreamClient(alice);
        StreamClient bobInitial = new StreamClient(bob)) {
      aliceInitial.hello("alice-phone", "");
      aliceCatchUp.hello("alice-laptop", start);
      bobInitial.hello("bob-phone", "");
      aliceInitial.awaitLive();
      aliceCatchUp.awaitLive();
      bobInitial.awaitLive();

      CompletableFuture<Void> a = CompletableFuture.runAsync(() -> writeMany(alice, "tenant-a", "a-during-", DURING));
      CompletableFuture<Void> b = CompletableFuture.runAsync(() -> writeMany(bob, "tenant-b", "b-during-", DURING));
      CompletableFuture.allOf(a, b).get(120, TimeUnit.SECONDS);
      // Delivered in commit order: once a tenant's last write arrives, every earlier commit of both has passed.
      writeMany(alice, "tenant-a", "a-last-", 1);
      writeMany(bob, "tenant-b", "b-last-", 1);

      for (StreamClient stream : List.of(aliceInitial, aliceCatchUp)) {
        assertThat(idsUntil(stream, "a-last-0")).hasSize(BEFORE + DURING + 1)
            .allMatch(id -> id.startsWith("a-"));
        assertThat(stream.changes()).extracting(c -> c.getEntity().getScope()).containsOnly("tenant-a");
      }
      assertThat(idsUntil(bobInitial, "b-last-0")).hasSize(BEFORE + DURING + 1).allMatch(id -> id.startsWith("b-"));

      // Checksums: of a scope Alice reads, over her entities only; of Bob's scope, refused.
      aliceInitial.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder()
          .setScope("tenant-a")).build());
      assertThat(aliceInitial.await(SyncResponse::hasChecksum, "checksum").getChecksum().getEntityCount())
          .isEqualTo(BEFORE + DURING + 1);
      aliceInitial.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder()
          .setScope("tenant-b")).build());
      SyncResponse refused = aliceInitial.await(SyncResponse::hasError, "error");
      assertThat(refused.getError().getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED.value());
      aliceInitial.assertOpen();

      // GetStatus counts only what the client may read: Alice's phone acknowledged nothing.
      long pending = stub(alice).getStatus(GetStatusRequest.newBuilder().setClientId("alice-phone").build())
          .getClient().getPendingChanges();
      long inTenantA = server.sql().fetchCount(server.sql().selectFrom("change_log").where("scope = 'tenant-a'"));
      long inAll = server.sql().fetchCount(server.sql().selectFrom("change_log"));
      assertThat(inAll).isGreaterThan(inTenantA);
      assertThat(pending).isEqualTo(inTenantA);
    }

    // Pull of everything: Alice's scope only, page after page.
    Set<String> pulled = new HashSet<>();
    String cursor = "";
    PullResponse page;
    do {
      page = stub(alice).pull(PullRequest.newBuilder().setCursor(cursor).build());
      for (Change change : page.getChangesList()) {
        assertThat(change.getEntity().getScope()).isEqualTo("tenant-a");
        pulled.add(change.getEntity().getEntityId());
      }
      cursor = page.getNextCursor();
    } while (page.getHasMore());
    assertThat(pulled).hasSize(BEFORE + DURING + 1);
  }

  @Test
  void aScopeNotGrantedIsRefusedWherePulledSubscribedOrWritten() {
    Channel alice = as("alice", "tenant-e");
    assertThatThrownBy(() -> stub(alice).pull(PullRequest.newBuilder().addScopes("tenant-f").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
          assertThat(e.getStatus().getDescription()).contains("scopes[0]").contains("tenant-f");
        });
    try (StreamClient stream = new StreamClient(alice)) {
      stream.hello("alice-phone", "", Subscription.newBuilder().addScopes("tenant-e").addScopes("tenant-f").build());
      SyncResponse error = stream.await(SyncResponse::hasError, "refused hello");
      assertThat(error.getError().getStatus().getMessage()).contains("hello.subscriptions[0].scopes[1]");
      stream.assertOpen();
    }
    // One delta to a scope not writable is rejected alone; the others are applied, results in request order.
    var results = stub(alice).push(PushRequest.newBuilder().setClientId("alice-phone")
        .addDeltas(create("tenant-e", "mixed-1"))
        .addDeltas(create("tenant-f", "mixed-2"))
        .addDeltas(create("tenant-e", "mixed-3").toBuilder().setEntityType("not a type"))
        .addDeltas(create("tenant-e", "mixed-4"))
        .build()).getResultsList();
    assertThat(results).extracting(r -> r.getStatus()).containsExactly(DeltaStatus.DELTA_STATUS_APPLIED,
        DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results.get(1).getError().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED.value());
    assertThat(results.get(1).getError().getMessage()).contains("deltas[1].scope");
    // The write path's own violation names the delta as the request numbers it, not as the subset it saw.
    assertThat(results.get(2).getError().getMessage()).contains("deltas[2]").doesNotContain("deltas[1]");
    assertThat(server.sql().fetchCount(server.sql().selectFrom("entity").where("entity_id = 'mixed-2'")))
        .isZero();
  }

  @Test
  void conflictsOfAnotherTenantAreNeitherListedNorResolvable() {
    Channel alice = as("alice", "tenant-c");
    Channel bob = as("bob", "tenant-d");
    for (var who : List.of(Map.entry(alice, "tenant-c"), Map.entry(bob, "tenant-d"))) {
      var sync = stub(who.getKey());
      sync.push(PushRequest.newBuilder().setClientId("c").addDeltas(create(who.getValue(), "x")).build());
      sync.push(PushRequest.newBuilder().setClientId("c").addDeltas(Deltas.update("x", 1, Deltas.doc("v", "1"))
          .toBuilder().setScope(who.getValue())).build());
      assertThat(sync.push(PushRequest.newBuilder().setClientId("c").addDeltas(Deltas.update("x", 1,
          Deltas.doc("v", "2")).toBuilder().setScope(who.getValue())).build()).getResults(0).getStatus())
          .isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    }
    var aliceConflicts = stub(alice).listConflicts(ListConflictsRequest.getDefaultInstance()).getConflictsList();
    var bobConflicts = stub(bob).listConflicts(ListConflictsRequest.getDefaultInstance()).getConflictsList();
    assertThat(aliceConflicts).extracting(c -> c.getServerEntity().getScope()).containsExactly("tenant-c");
    assertThat(bobConflicts).extracting(c -> c.getServerEntity().getScope()).containsExactly("tenant-d");

    assertThatThrownBy(() -> stub(alice).resolveConflict(io.deltasync.v1.ResolveConflictRequest.newBuilder()
        .setConflictId(bobConflicts.get(0).getConflictId())
        .setChoice(io.deltasync.v1.ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThat(stub(bob).listConflicts(ListConflictsRequest.getDefaultInstance()).getConflictsCount()).isEqualTo(1);
  }

  /** The entity ids a stream received until (and with) {@code lastId}. */
  private static List<String> idsUntil(StreamClient stream, String lastId) {
    List<String> ids = new ArrayList<>();
    while (ids.stream().noneMatch(lastId::equals)) {
      stream.await(SyncResponse::hasChanges, lastId);
      ids = stream.changes().stream().map(c -> c.getEntity().getEntityId()).distinct().toList();
    }
    return ids;
  }
}

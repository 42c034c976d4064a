package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolutionOutcome;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jooq.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The SDK against a real server on Netty at 127.0.0.1 over embedded PostgreSQL, each device with its own SQLite file. */
class SyncClientIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @TempDir
  Path dir;

  private Device device(String name, String scope) {
    return device(name, scope, b -> { });
  }

  private Device device(String name, String scope, Consumer<SyncClient.Builder> more) {
    return new Device(dir.resolve(name + ".db"), server.port(), b -> {
      b.clientId(name).subscribe(null, scope);
      more.accept(b);
    });
  }

  private static EntityKey key(String scope, String id) {
    return new EntityKey(scope, "inspection", id);
  }

  /** Live entities of a scope on the server: id → row_version. */
  private static Map<String, Long> serverState(String scope) {
    Map<String, Long> state = new TreeMap<>();
    for (Record r : server.sql().fetch("select entity_id, row_version from entity where scope = ? and not is_deleted",
        scope)) {
      state.put(r.get(0, String.class), r.get(1, Long.class));
    }
    return state;
  }

  /** What a device sees of a scope, confirmed by the server: id → row_version. */
  private static Map<String, Long> localState(Device device, String scope) {
    Map<String, Long> state = new TreeMap<>();
    for (LocalEntity entity : device.client.query(null, scope)) {
      state.put(entity.key().entityId(), entity.pending() ? -1 : entity.serverVersion());
    }
    return state;
  }

  private static long changesLogged(String scope) {
    return server.sql().fetchOne("select count(*) from change_log where scope = ?", scope).get(0, Long.class);
  }

  @Test
  void offlineWritesSurviveAnAppKillAndArePushedExactlyOnce() throws Exception {
    String scope = "kill";
    Device phone = device("phone", scope);
    // Offline (never started): every write applies locally at once and waits in the outbox.
    phone.client.create("inspection", scope, "gate-1", doc("status", "open"));
    phone.client.create("inspection", scope, "gate-2", doc("status", "open"));
    phone.client.update(key(scope, "gate-1"), doc("status", "passed"));
    phone.client.delete(key(scope, "gate-2"));
    phone.client.create("inspection", scope, "gate-3", doc("status", "open"));
    assertThat(phone.client.get(key(scope, "gate-1")).orElseThrow().data()).isEqualTo(doc("status", "passed"));
    assertThat(phone.client.get(key(scope, "gate-2")).orElseThrow().deleted()).isTrue();
    assertThat(phone.client.query("inspection", scope)).extracting(e -> e.key().entityId())
        .containsExactly("gate-1", "gate-3");
    // The first delta reached the server just before the app was killed; its result was never stored.
    Delta first = phone.client.outbox().get(0).delta();
    assertThat(server.sync().push(PushRequest.newBuilder().setClientId("phone").addDeltas(first).build())
        .getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    phone.kill();

    try (Device again = device("phone", scope)) {
      assertThat(again.client.pendingCount()).isEqualTo(5);
      assertThat(again.client.outbox().get(0).delta()).isEqualTo(first);
      again.client.start();
      again.awaitSynced();

      // Five writes, five changes: the delta pushed before the kill was answered from its stored result.
      assertThat(changesLogged(scope)).isEqualTo(5);
      assertThat(serverState(scope)).containsExactly(Map.entry("gate-1", 2L), Map.entry("gate-3", 1L));
      assertThat(localState(again, scope)).isEqualTo(serverState(scope));
      assertThat(again.client.get(key(scope, "gate-1")).orElseThrow().data()).isEqualTo(doc("status", "passed"));
      assertThat(again.client.get(key(scope, "gate-2")).orElseThrow().deleted()).isTrue();
      assertThat(again.rejected).isEmpty();
      assertThat(again.conflicts).isEmpty();
    }
  }

  @Test
  void twoClientsConvergeAndTheChecksumAgrees() throws Exception {
    String scope = "converge";
    try (Device a = device("a", scope); Device b = device("b", scope)) {
      a.client.start();
      b.client.start();
      for (int i = 0; i < 5; i++) {
        a.client.create("inspection", scope, "g" + i, doc("by", "a"));
      }
      b.client.create("inspection", scope, "b0", doc("by", "b"));
      a.awaitSynced();
      b.awaitSynced();
      await("b sees a's entities", () -> b.client.query(null, scope).size() == 6);
      b.client.update(key(scope, "g1"), doc("by", "b"));
      a.client.update(key(scope, "g2"), doc("by", "a2"));
      a.client.delete(key(scope, "b0"));
      b.client.update(key(scope, "g3"), doc("by", "b"));
      a.client.update(key(scope, "g3"), doc("by", "a"));
      await("both copies equal the server's", () -> {
        Map<String, Long> expected = serverState(scope);
        return a.client.pendingCount() == 0 && b.client.pendingCount() == 0
            && localState(a, scope).equals(expected) && localState(b, scope).equals(expected);
      });
      for (LocalEntity entity : a.client.query(null, scope)) {
        assertThat(b.client.get(entity.key()).orElseThrow().data()).isEqualTo(entity.data());
      }
      assertThat(a.client.get(key(scope, "b0")).orElseThrow().deleted()).isTrue();
      assertThat(b.client.get(key(scope, "b0")).orElseThrow().deleted()).isTrue();

      ChecksumResult checksum = a.client.verify(scope).get(60, TimeUnit.SECONDS);
      assertThat(checksum.matches()).isTrue();
      assertThat(checksum.localEntities()).isEqualTo(5);
    }
  }

  @Test
  void aRejectedDeltaIsReportedAndDoesNotBlockTheOnesBehindIt() throws Exception {
    String scope = "rejected";
    try (Device phone = device("rejecting-phone", scope)) {
      // Offline first, so the bad delta is at the head of the outbox when the stream comes up.
      phone.client.create("9-not-a-type", scope, "bad", doc("x", "1"));
      phone.client.create("inspection", scope, "after-1", doc("x", "1"));
      phone.client.create("inspection", scope, "after-2", doc("x", "2"));
      phone.client.start();
      phone.awaitSynced();
      // The listener hears the result just after the outbox shrinks (SyncLoop.report), so wait for it.
      Device.await("the rejection heard", () -> !phone.rejected.isEmpty());

      assertThat(phone.rejected).singleElement().satisfies(result -> {
        assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
        assertThat(result.getError().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      });
      assertThat(serverState(scope)).containsOnlyKeys("after-1", "after-2");
      assertThat(phone.client.get(new EntityKey(scope, "9-not-a-type", "bad"))).isEmpty();
      assertThat(phone.client.outbox()).isEmpty();
    }
  }

  @Test
  void aResyncDownloadsTheStateAgainAndKeepsTheOutbox() throws Exception {
    String scope = "resync";
    Device phone = device("resync-phone", scope);
    phone.client.start();
    phone.client.create("inspection", scope, "x", doc("v", "1"));
    phone.awaitSynced();
    phone.kill();

    server.sync().push(PushRequest.newBuilder().setClientId("other").addDeltas(Delta.newBuilder()
        .setDeltaId("other-y").setScope(scope).setEntityType("inspection").setEntityId("y")
        .setOperation(io.deltasync.v1.Operation.OPERATION_CREATE).setData(doc("v", "other"))).build());
    // What tombstone clean-up does after purging old history: the phone's cursor is now too old.
    server.sql().execute("update sync_epoch set (history_floor_tx_id, history_floor_change_id) = "
        + "(select tx_id, change_id from change_log order by tx_id desc, change_id desc limit 1)");

    try (Device again = device("resync-phone", scope)) {
      again.client.update(key(scope, "x"), doc("v", "2"));
      again.client.update(key(scope, "x"), doc("v", "3")); // chained: sent only after the first one's result
      again.client.create("inspection", scope, "z", doc("v", "offline"));
      again.client.start();
      await("resync", () -> !again.resyncs.isEmpty());
      again.awaitSynced();
      await("the copy equals the server's", () -> localState(again, scope).equals(serverState(scope)));
      assertThat(serverState(scope)).containsOnlyKeys("x", "y", "z").containsEntry("x", 3L);
      assertThat(again.client.get(key(scope, "x")).orElseThrow().data()).isEqualTo(doc("v", "3"));
      assertThat(again.client.get(key(scope, "y")).orElseThrow().data()).isEqualTo(doc("v", "other"));
      assertThat(again.states).anyMatch(s -> s.phase() == SyncState.Phase.INITIAL_SYNC);
    }
  }

  @Test
  void aConflictReachesTheListenerWithTheServersOutcome() throws Exception {
    String scope = "conflict";
    try (Device a = device("conflict-a", scope)) {
      a.client.start();
      a.client.create("inspection", scope, "c", doc("status", "open"));
      a.client.create("inspection", scope, "m", doc("status", "open"));
      a.client.create("inspection", scope, "w", doc("status", "open"));
      a.client.create("inspection", scope, "l", doc("status", "open"));
      a.client.create("inspection", scope, "o", doc("status", "open"));
      a.awaitSynced();
      Device b = device("conflict-b", scope);
      b.client.start();
      await("b has both", () -> localState(b, scope).equals(serverState(scope)));
      b.kill();

      a.client.update(key(scope, "c"), doc("status", "failed"));
      a.client.update(key(scope, "m"), doc("status", "failed"));
      a.client.update(key(scope, "w"), doc("status", "failed"));
      a.client.update(key(scope, "l"), doc("status", "failed"));
      a.client.edit(key(scope, "o"), List.of(Edits.insertText(List.of("status"), 4, " now")));
      a.awaitSynced();

      try (Device offline = device("conflict-b", scope)) {
        offline.client.update(key(scope, "c"), doc("status", "passed"), ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);
        offline.client.update(key(scope, "m"), doc("status", "passed"), ConflictPolicy.CONFLICT_POLICY_MANUAL);
        offline.client.update(key(scope, "w"), doc("status", "passed"), ConflictPolicy.CONFLICT_POLICY_CLIENT_WINS);
        offline.client.update(key(scope, "l"), doc("status", "passed")); // the server's default: last write wins
        offline.client.edit(key(scope, "o"), List.of(Edits.insertText(List.of("status"), 0, "re")));
        offline.client.start();
        offline.awaitSynced();
        await("five conflicts", () -> offline.conflicts.size() == 5);

        // Operational transform: merged, both edits kept, on both devices.
        assertThat(offline.conflicts.get(4).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(offline.conflicts.get(4).getResolution().getPolicy())
            .isEqualTo(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);
        assertThat(offline.conflicts.get(4).getResolution().getOutcome())
            .isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
        assertThat(offline.client.get(key(scope, "o")).orElseThrow().data()).isEqualTo(doc("status", "reopen now"));
        await("a sees the merge", () -> a.client.get(key(scope, "o")).orElseThrow().data()
            .equals(doc("status", "reopen now")));

        // Client wins, and last write wins (the later write is this one): applied over the server's state.
        assertThat(offline.conflicts.get(2).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(offline.conflicts.get(2).getResolution().getOutcome())
            .isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON);
        assertThat(offline.conflicts.get(3).getResolution().getPolicy())
            .isEqualTo(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
        for (String id : List.of("w", "l")) {
          assertThat(offline.client.get(key(scope, id)).orElseThrow().data()).isEqualTo(doc("status", "passed"));
          await("a sees " + id, () -> a.client.get(key(scope, id)).orElseThrow().data()
              .equals(doc("status", "passed")));
        }

        // Server wins: the local copy shows the server's state.
        assertThat(offline.conflicts.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
        assertThat(offline.client.get(key(scope, "c")).orElseThrow().data()).isEqualTo(doc("status", "failed"));
        // Manual: queued, and the helper resolves it.
        var queued = offline.conflicts.get(1);
        assertThat(queued.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
        assertThat(offline.client.get(key(scope, "m")).orElseThrow().inConflict()).isTrue();
        LocalEntity resolved = offline.client.resolveConflict(queued.getResolution().getConflictId(),
            ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT, null, 0);
        assertThat(resolved.data()).isEqualTo(doc("status", "passed"));
        await("a sees the resolution", () -> a.client.get(key(scope, "m")).orElseThrow().data()
            .equals(doc("status", "passed")));
        assertThat(offline.client.pendingCount()).isZero();
      }
    }
  }

  @Test
  void theAppSeesTheSyncStateWithInitialProgressAndPendingCount() throws Exception {
    String scope = "states";
    try (Device a = device("states-a", scope)) {
      a.client.start();
      for (int i = 0; i < 7; i++) {
        a.client.create("inspection", scope, "s" + i, doc("n", "" + i));
      }
      a.awaitSynced();
      Device b = device("states-b", scope);
      b.client.create("inspection", scope, "mine-1", doc("n", "b"));
      b.client.create("inspection", scope, "mine-2", doc("n", "b"));
      await("offline, two pending", () -> b.client.state().equals(new SyncState(SyncState.Phase.OFFLINE, 2, 0, null)));
      b.client.start();
      b.awaitSynced();
      await("b has everything", () -> b.client.query("inspection", scope).size() == 9);
      List<SyncState.Phase> phases = b.states.stream().map(SyncState::phase).distinct().toList();
      assertThat(phases).containsSubsequence(SyncState.Phase.OFFLINE, SyncState.Phase.CONNECTING,
          SyncState.Phase.INITIAL_SYNC, SyncState.Phase.LIVE);
      // The initial state counts a's 7 entities, and b's own 2 as well when its pushes (sent as the stream opens)
      // commit before the initial state is read (one or both).
      assertThat(b.states).filteredOn(s -> s.phase() == SyncState.Phase.INITIAL_SYNC)
          .extracting(SyncState::initialEntities).anySatisfy(n -> assertThat(n).isBetween(7L, 9L));
      assertThat(b.client.state()).isEqualTo(new SyncState(SyncState.Phase.LIVE, 0, 0, null));
      b.kill();

      // Back after a while: it catches up from its cursor (no initial state), then is live again.
      a.client.update(new EntityKey(scope, "inspection", "s0"), doc("n", "changed"));
      a.awaitSynced();
      try (Device again = device("states-b", scope)) {
        again.client.start();
        again.awaitSynced();
        await("again sees the change", () -> again.client.get(new EntityKey(scope, "inspection", "s0"))
            .orElseThrow().data().equals(doc("n", "changed")));
        assertThat(again.states).extracting(SyncState::phase).doesNotContain(SyncState.Phase.INITIAL_SYNC)
            .contains(SyncState.Phase.CATCHING_UP);
      }
    }
  }

  @Test
  void aHelloTheServerRefusesStopsWithTheReasonInsteadOfRetrying() throws Exception {
    try (Device phone = device("refused-phone", "not a scope!")) {
      phone.client.start();
      await("stopped", () -> phone.client.state().phase() == SyncState.Phase.STOPPED);
      assertThat(phone.client.state().lastError()).startsWith("INVALID_ARGUMENT: hello refused: ")
          .contains("hello.subscriptions[0].scopes[0]");
    }
  }
}

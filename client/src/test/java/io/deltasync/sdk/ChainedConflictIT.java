package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolutionOutcome;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jooq.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real devices create the same entity; the one that was offline also edited it after creating it, so its edit
 * waits in the outbox chained behind its create. Under each policy, the create meets the other device's create
 * (ENTITY_EXISTS), and the edit behind it is never refused for its base nor overwrites what the policy kept: it is
 * judged as the same conflict (docs/client.md, "Writes behind a conflict"). Every verdict reaches the app's listener
 * with the server's outcome, and both copies end equal to the server's.
 */
class ChainedConflictIT {
  private static final Map<String, ConflictPolicy> POLICIES = Map.of(
      "note_lww", ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
      "note_cw", ConflictPolicy.CONFLICT_POLICY_CLIENT_WINS,
      "note_sw", ConflictPolicy.CONFLICT_POLICY_SERVER_WINS,
      "note_manual", ConflictPolicy.CONFLICT_POLICY_MANUAL,
      "note_ot", ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withConflicts(
      config.defaultConflictPolicy(), new ServerConfig.Conflicts(POLICIES, config.conflicts().maxClockSkew())));

  @TempDir
  Path dir;

  /** The offline device writes with this clock: its writes are older than the online device's unless moved on. */
  private final ManualClock offlineClock = new ManualClock();

  private Device online(String scope) {
    return new Device(dir.resolve("online.db"), server.port(), b -> b.clientId("online-" + scope)
        .subscribe(null, scope));
  }

  private Device offline(String scope) {
    offlineClock.set(Instant.now().minus(Duration.ofHours(1)));
    return new Device(dir.resolve("offline.db"), server.port(), b -> b.clientId("offline-" + scope)
        .subscribe(null, scope).clock(offlineClock));
  }

  private static Map<String, Object> serverRow(String scope, String id) {
    Record r = server.sql().fetchOne("select data::text, row_version, is_deleted from entity where scope = ? "
        + "and entity_id = ?", scope, id);
    return Map.of("data", r.get(0, String.class), "version", r.get(1, Long.class), "deleted", r.get(2, Boolean.class));
  }

  /** Both devices show the server's document and version, with nothing pending. */
  private static void awaitConverged(Device a, Device b, EntityKey key) {
    await("both copies equal the server's", () -> {
      Map<String, Object> row = serverRow(key.scope(), key.entityId());
      for (Device device : List.of(a, b)) {
        LocalEntity local = device.client.get(key).orElse(null);
        if (local == null || local.pending() || local.serverVersion() != (Long) row.get("version")
            || device.client.pendingCount() != 0) {
          return false;
        }
      }
      return a.client.get(key).orElseThrow().data().equals(b.client.get(key).orElseThrow().data());
    });
  }

  /** The offline device creates {@code id} and edits it; then the online device creates it; then both sync. */
  private record Race(Device online, Device offline, EntityKey key) {}

  private Race race(String type, String scope, String id, Runnable beforeSync) {
    EntityKey key = new EntityKey(scope, type, id);
    Device off = offline(scope);
    off.client.create(type, scope, id, doc("status", "offline"));
    offlineClock.advance(Duration.ofMillis(1));
    off.client.update(key, doc("status", "offline, edited"));
    Device on = online(scope);
    on.client.start();
    on.client.create(type, scope, id, doc("status", "online"));
    on.awaitSynced();
    beforeSync.run();
    off.client.start();
    off.awaitSynced();
    return new Race(on, off, key);
  }

  private static void assertOutcome(DeltaResult result, DeltaStatus status, ResolutionOutcome outcome) {
    assertThat(result.getStatus()).isEqualTo(status);
    assertThat(result.getResolution().getOutcome()).isEqualTo(outcome);
  }

  @Test
  void serverWinsKeepsTheServersEntityAndReportsTheWritesBehindTheCreateAsLosingToo() throws Exception {
    String scope = "chain-sw";
    EntityKey key = new EntityKey(scope, "note_sw", "x");
    EntityKey deleted = new EntityKey(scope, "note_sw", "d");
    Device off = offline(scope);
    off.client.create("note_sw", scope, "x", doc("status", "offline"));
    off.client.update(key, doc("status", "offline, edited"));
    off.client.create("note_sw", scope, "d", doc("status", "offline"));
    off.client.delete(deleted);
    try (Device on = online(scope); off) {
      on.client.start();
      on.client.create("note_sw", scope, "x", doc("status", "online"));
      on.client.create("note_sw", scope, "d", doc("status", "online"));
      on.awaitSynced();
      off.client.start();
      off.awaitSynced();
      await("four verdicts", () -> off.conflicts.size() == 4);
      assertThat(off.rejected).isEmpty();
      // The two creates and the update behind x's create (sent as a create): decided by server wins. The delete
      // behind d's create is never sent: reported as a conflict of its own, with no resolution (no policy decided).
      assertThat(off.conflicts).filteredOn(DeltaResult::hasResolution).hasSize(3).allSatisfy(r -> assertOutcome(r,
          DeltaStatus.DELTA_STATUS_CONFLICT, ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON));
      assertThat(off.conflicts).filteredOn(r -> !r.hasResolution()).singleElement().satisfies(r -> {
        assertThat(r.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
        assertThat(r.getError().getMessage()).contains("would delete an entity this client never had");
      });
      assertThat(serverRow(scope, "x")).containsEntry("data", "{\"status\": \"online\"}")
          .containsEntry("version", 1L);
      awaitConverged(on, off, key);
      assertThat(off.client.get(key).orElseThrow().data()).isEqualTo(doc("status", "online"));
      // The delete behind a create that lost would have deleted the other device's entity: it lost with the create.
      assertThat(serverRow(scope, "d")).containsEntry("deleted", false).containsEntry("version", 1L);
      awaitConverged(on, off, deleted);
      assertThat(off.client.get(deleted).orElseThrow().deleted()).isFalse();
    }
  }

  @Test
  void lastWriteWinsJudgesTheEditBehindTheCreateAtItsOwnTime() throws Exception {
    String scope = "chain-lww";
    // Both offline writes are older than the online create: both lose.
    Race early = race("note_lww", scope, "early", () -> { });
    try (Device on = early.online(); Device off = early.offline()) {
      await("two verdicts", () -> off.conflicts.size() == 2);
      assertThat(off.rejected).isEmpty();
      off.conflicts.forEach(r -> assertOutcome(r, DeltaStatus.DELTA_STATUS_CONFLICT,
          ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON));
      assertThat(serverRow(scope, "early").get("data")).isEqualTo("{\"status\": \"online\"}");
      awaitConverged(on, off, early.key());

      // The create is older than the online one, the edit behind it newer: the create loses, the edit wins.
      EntityKey late = new EntityKey(scope, "note_lww", "late");
      off.client.close();
      off.channel.shutdownNow();
      try (Device again = new Device(off.file, server.port(), b -> b.clientId("offline-" + scope)
          .subscribe(null, scope).clock(offlineClock))) {
        offlineClock.set(Instant.now().minus(Duration.ofHours(1)));
        again.client.create("note_lww", scope, "late", doc("status", "offline"));
        on.client.create("note_lww", scope, "late", doc("status", "online"));
        on.awaitSynced();
        offlineClock.set(Instant.now().plus(Duration.ofSeconds(1)));
        again.client.update(late, doc("status", "offline, edited"));
        again.client.start();
        await("two verdicts", () -> again.conflicts.size() == 2);
        assertThat(again.rejected).isEmpty();
        assertOutcome(again.conflicts.get(0), DeltaStatus.DELTA_STATUS_CONFLICT,
            ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON);
        assertOutcome(again.conflicts.get(1), DeltaStatus.DELTA_STATUS_APPLIED,
            ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON);
        assertThat(serverRow(scope, "late").get("data")).isEqualTo("{\"status\": \"offline, edited\"}");
        awaitConverged(on, again, late);
      }
    }
  }

  /** A document of string fields, given as key, value, key, value… */
  private static com.google.protobuf.Struct fields(String... keysAndValues) {
    com.google.protobuf.Struct.Builder data = com.google.protobuf.Struct.newBuilder();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      data.putFields(keysAndValues[i], com.google.protobuf.Value.newBuilder().setStringValue(keysAndValues[i + 1])
          .build());
    }
    return data.build();
  }

  @Test
  void lastWriteWinsMergeKeepsTheServersFieldAgainstTheEditBehindIt() throws Exception {
    String scope = "chain-lww-merge";
    EntityKey key = new EntityKey(scope, "note_lww", "m");
    Device on = online(scope);
    on.client.start();
    on.client.create("note_lww", scope, "m", fields("a", "0", "b", "0"));
    on.awaitSynced();
    Device off = offline(scope);
    off.client.start();
    await("offline device has m", () -> off.client.get(key).map(e -> e.serverVersion() == 1).orElse(false));
    off.kill();
    // The online device changes field a now; the offline device changed a and b an hour ago, then added c.
    on.client.update(key, fields("a", "online", "b", "0"));
    on.awaitSynced();
    try (on; Device again = new Device(off.file, server.port(), b -> b.clientId("offline-" + scope)
        .subscribe(null, scope).clock(offlineClock))) {
      again.client.update(key, fields("a", "offline", "b", "offline"));
      offlineClock.advance(Duration.ofMillis(1));
      again.client.update(key, fields("a", "offline", "b", "offline", "c", "offline"));
      again.client.start();
      again.awaitSynced();
      // One verdict: the first update merged. The edit behind it only adds c over that update's document, so it is
      // rebased onto the merge (c added to the server's document) and applies at the merge's version, no conflict.
      // Sent as the user's whole document instead, it would have replaced a (the online device's later write)
      // with its own older value.
      await("one verdict", () -> again.conflicts.size() == 1);
      assertThat(again.rejected).isEmpty();
      assertOutcome(again.conflicts.get(0), DeltaStatus.DELTA_STATUS_APPLIED,
          ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
      assertThat(serverRow(scope, "m").get("data"))
          .isEqualTo("{\"a\": \"online\", \"b\": \"offline\", \"c\": \"offline\"}");
      awaitConverged(on, again, key);
      assertThat(again.client.get(key).orElseThrow().data())
          .isEqualTo(fields("a", "online", "b", "offline", "c", "offline"));
    }
  }

  @Test
  void clientWinsAppliesTheCreateAndTheEditBehindItOnTheResult() throws Exception {
    String scope = "chain-cw";
    Race race = race("note_cw", scope, "x", () -> { });
    try (Device on = race.online(); Device off = race.offline()) {
      await("one verdict", () -> off.conflicts.size() == 1);
      assertOutcome(off.conflicts.get(0), DeltaStatus.DELTA_STATUS_APPLIED,
          ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON);
      assertThat(off.rejected).isEmpty();
      assertThat(serverRow(scope, "x")).containsEntry("data", "{\"status\": \"offline, edited\"}")
          .containsEntry("version", 3L);
      awaitConverged(on, off, race.key());
      assertThat(on.client.get(race.key()).orElseThrow().data()).isEqualTo(doc("status", "offline, edited"));
    }
  }

  @Test
  void manualQueuesTheEditBehindTheCreateAsItsOwnConflictAndTheHelperResolvesThem() throws Exception {
    String scope = "chain-manual";
    Race race = race("note_manual", scope, "x", () -> { });
    try (Device on = race.online(); Device off = race.offline()) {
      await("two verdicts", () -> off.conflicts.size() == 2);
      assertThat(off.rejected).isEmpty();
      off.conflicts.forEach(r -> assertOutcome(r, DeltaStatus.DELTA_STATUS_CONFLICT,
          ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED));
      String create = off.conflicts.get(0).getResolution().getConflictId();
      String edit = off.conflicts.get(1).getResolution().getConflictId();
      assertThat(edit).isNotEqualTo(create);
      // Queued, nothing overwritten: the entity holds the online create, marked in conflict.
      assertThat(serverRow(scope, "x")).containsEntry("data", "{\"status\": \"online\"}")
          .containsEntry("version", 1L);
      assertThat(off.client.get(race.key()).orElseThrow().inConflict()).isTrue();

      // A person takes the offline device's latest document, and closes the older conflict keeping that.
      LocalEntity resolved = off.client.resolveConflict(edit, ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT, null, 0);
      assertThat(resolved.data()).isEqualTo(doc("status", "offline, edited"));
      off.client.resolveConflict(create, ResolutionChoice.RESOLUTION_CHOICE_TAKE_SERVER, null, 0);
      await("online sees the resolution", () -> on.client.get(race.key()).orElseThrow().data()
          .equals(doc("status", "offline, edited")));
      awaitConverged(on, off, race.key());
      await("no longer in conflict", () -> !off.client.get(race.key()).orElseThrow().inConflict());
    }
  }

  @Test
  void operationalTransformSendsTheEditsBehindTheCreateAsTheDocumentUnderThePolicyItFellBackTo()
      throws Exception {
    String scope = "chain-ot";
    List<Object> text = List.of("status");
    EntityKey key = new EntityKey(scope, "note_ot", "x");
    Device off = offline(scope);
    off.client.create("note_ot", scope, "x", doc("status", "offline"));
    offlineClock.advance(Duration.ofMillis(1));
    off.client.edit(key, List.of(Edits.insertText(text, 7, ", typed")));
    assertThat(off.client.outbox()).hasSize(2);
    try (Device on = online(scope); off) {
      on.client.start();
      on.client.create("note_ot", scope, "x", doc("status", "online"));
      on.awaitSynced();
      off.client.start();
      off.awaitSynced();
      await("two verdicts", () -> off.conflicts.size() == 2);
      assertThat(off.rejected).isEmpty();
      // A create cannot be merged by operational transform: last write wins decides, for both (older: both lose).
      off.conflicts.forEach(r -> {
        assertOutcome(r, DeltaStatus.DELTA_STATUS_CONFLICT, ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON);
        assertThat(r.getResolution().getPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
      });
      assertThat(serverRow(scope, "x").get("data")).isEqualTo("{\"status\": \"online\"}");
      awaitConverged(on, off, key);

      // Merged from now on: both type into the server's text and converge on it.
      on.client.edit(key, List.of(Edits.insertText(text, 0, "[on] ")));
      off.client.edit(key, List.of(Edits.insertText(text, 6, " [off]")));
      await("merged", () -> serverRow(scope, "x").get("data").equals("{\"status\": \"[on] online [off]\"}"));
      awaitConverged(on, off, key);
      assertThat(on.client.get(key).orElseThrow().data()).isEqualTo(doc("status", "[on] online [off]"));
    }
  }
}

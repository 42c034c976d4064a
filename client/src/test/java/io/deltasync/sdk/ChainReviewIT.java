package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.jooq.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of "writes queued behind a conflict" (ChainedWrites): regression tests. Each failed before the
 * fix (the merged-write cases then waited for a second verdict, which a rebased write that applies no longer gives).
 */
class ChainReviewIT {
  private static final Map<String, ConflictPolicy> POLICIES = Map.of(
      "note_lww", ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
      "note_sw", ConflictPolicy.CONFLICT_POLICY_SERVER_WINS,
      "note_manual", ConflictPolicy.CONFLICT_POLICY_MANUAL);

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withConflicts(
      config.defaultConflictPolicy(), new ServerConfig.Conflicts(POLICIES, config.conflicts().maxClockSkew())));

  @TempDir
  Path dir;

  private final ManualClock offlineClock = new ManualClock();

  private Device online(String scope) {
    return new Device(dir.resolve("online-" + scope + ".db"), server.port(), b -> b.clientId("online-" + scope)
        .subscribe(null, scope));
  }

  private Device offline(String scope) {
    return new Device(dir.resolve("offline-" + scope + ".db"), server.port(), b -> b.clientId("offline-" + scope)
        .subscribe(null, scope).clock(offlineClock));
  }

  private static Map<String, Object> serverRow(String scope, String id) {
    Record r = server.sql().fetchOne("select data::text, row_version, is_deleted from entity where scope = ? "
        + "and entity_id = ?", scope, id);
    return Map.of("data", r.get(0, String.class), "version", r.get(1, Long.class), "deleted", r.get(2, Boolean.class));
  }

  private static Struct fields(String... kv) {
    Struct.Builder data = Struct.newBuilder();
    for (int i = 0; i < kv.length; i += 2) {
      data.putFields(kv[i], Value.newBuilder().setStringValue(kv[i + 1]).build());
    }
    return data.build();
  }

  /**
   * docs/client.md rule 2: "Behind a create (base 0, or a tombstone's version) ... a delete is dropped": it would
   * delete an entity the user never had. A create over a tombstone (base = the tombstone's version) that loses
   * leaves the delete behind it sent with that base, and last write wins lets it delete the OTHER device's entity.
   */
  @Test
  void deleteBehindALosingRecreateMustNotDeleteTheOtherDevicesEntity() throws Exception {
    String scope = "rv-recreate";
    EntityKey key = new EntityKey(scope, "note_lww", "r");
    offlineClock.set(Instant.now());
    try (Device on = online(scope)) {
      on.client.start();
      on.client.create("note_lww", scope, "r", doc("status", "first"));
      on.awaitSynced();
      Device off = offline(scope);
      off.client.start();
      await("offline has r", () -> off.client.get(key).map(e -> e.serverVersion() == 1).orElse(false));
      on.client.delete(key);
      on.awaitSynced();
      await("offline has the tombstone", () -> off.client.get(key)
          .map(e -> e.serverVersion() == 2 && e.deleted()).orElse(false));
      off.kill();
      try (Device again = offline(scope)) {
        // Offline, an hour ago: the user creates r again (base = the tombstone's version 2)...
        offlineClock.set(Instant.now().minus(Duration.ofHours(1)));
        again.client.create("note_lww", scope, "r", doc("status", "offline"));
        assertThat(again.client.outbox().get(0).delta().getBaseRowVersion()).isEqualTo(2);
        // ...meanwhile the online device creates r again (v3)...
        on.client.create("note_lww", scope, "r", doc("status", "online"));
        on.awaitSynced();
        assertThat(serverRow(scope, "r")).containsEntry("version", 3L).containsEntry("deleted", false);
        // ...and, later, the offline user deletes THEIR r.
        offlineClock.set(Instant.now().plus(Duration.ofSeconds(1)));
        again.client.delete(key);
        again.client.start();
        again.awaitSynced();
        await("two verdicts", () -> again.conflicts.size() + again.rejected.size() == 2);
        // The create lost (older than the online one): the delete behind it must not delete the online entity.
        assertThat(again.conflicts.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
        // The delete is not sent: reported under its own id as a conflict no policy decided (no resolution).
        assertThat(again.conflicts.get(1).getDeltaId()).isNotEqualTo(again.conflicts.get(0).getDeltaId());
        assertThat(again.conflicts.get(1).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
        assertThat(again.conflicts.get(1).hasResolution()).isFalse();
        assertThat(serverRow(scope, "r")).as("the online device's re-created entity")
            .containsEntry("deleted", false).containsEntry("data", "{\"status\": \"online\"}");
      }
    }
  }

  /**
   * A create whose last-write-wins verdict is APPLIED/MERGED (the client's later fields won; a field only the
   * server has is kept) wrote the user's document into the entity: the user HAS the entity. The user's later delete
   * behind it is nevertheless dropped as "behind a create the server did not take", the entity stays live on the
   * server, and the app is told the delete's verdict is APPLIED.
   */
  @Test
  void deleteBehindACreateMergedByLastWriteWinsIsSilentlyDropped() throws Exception {
    String scope = "rv-merged";
    EntityKey key = new EntityKey(scope, "note_lww", "m");
    offlineClock.set(Instant.now());
    Device off = offline(scope);
    try (Device on = online(scope); off) {
      on.client.start();
      on.client.create("note_lww", scope, "m", fields("status", "online", "extra", "online"));
      on.awaitSynced();
      // The offline device's create and delete are both later than the online create.
      offlineClock.set(Instant.now().plus(Duration.ofSeconds(1)));
      off.client.create("note_lww", scope, "m", fields("status", "offline"));
      offlineClock.advance(Duration.ofMillis(10));
      off.client.delete(key);
      String deleteId = off.client.outbox().get(1).deltaId();
      off.client.start();
      off.awaitSynced();
      await("the create's verdict", () -> off.conflicts.size() + off.rejected.size() >= 1);
      DeltaResult create = off.conflicts.get(0);
      assertThat(create.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(create.getResolution().getOutcome()).isEqualTo(io.deltasync.v1.ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
      // The user's delete, the latest write of all, is applied (based on the merge's version, no conflict), and
      // the app hears no verdict for it copied from the create's result.
      assertThat(serverRow(scope, "m")).as("the user's later delete").containsEntry("deleted", true);
      assertThat(off.conflicts).extracting(DeltaResult::getDeltaId).doesNotContain(deleteId);
      assertThat(off.rejected).isEmpty();
    }
  }

  /**
   * docs/conflicts.md, last write wins: "one [field] both changed goes to the later write of that field". The user
   * changed field a an hour ago (U1); the online device changed a now; the user then (later, still offline)
   * added field c (U2, whose document still carries U1's a). U1 merges and loses a, but U2 is sent at U1's stale
   * base, so the server sees a as changed by U2 at U2's time, and the hour-old value overwrites the newer one.
   */
  @Test
  void lastWriteWinsChainedEditDoesNotReStampAnOlderFieldWithItsOwnTime() throws Exception {
    String scope = "rv-restamp";
    EntityKey key = new EntityKey(scope, "note_lww", "m");
    offlineClock.set(Instant.now());
    try (Device on = online(scope)) {
      on.client.start();
      on.client.create("note_lww", scope, "m", fields("a", "0", "b", "0"));
      on.awaitSynced();
      Device off = offline(scope);
      off.client.start();
      await("offline has m", () -> off.client.get(key).map(e -> e.serverVersion() == 1).orElse(false));
      off.kill();
      try (Device again = offline(scope)) {
        offlineClock.set(Instant.now().minus(Duration.ofHours(1)));
        again.client.update(key, fields("a", "offline", "b", "offline"));
        on.client.update(key, fields("a", "online", "b", "0"));
        on.awaitSynced();
        offlineClock.set(Instant.now().plus(Duration.ofSeconds(1)));
        again.client.update(key, fields("a", "offline", "b", "offline", "c", "offline"));
        again.client.start();
        again.awaitSynced();
        // U1's merge is the one verdict: U2, rebased onto the merge (it only adds c), applies without a conflict.
        await("U1's verdict", () -> again.conflicts.size() + again.rejected.size() >= 1);
        assertThat(serverRow(scope, "m").get("data")).as("a was last written by the online device")
            .isEqualTo("{\"a\": \"online\", \"b\": \"offline\", \"c\": \"offline\"}");
      }
    }
  }

  /**
   * The create is merged by last write wins (APPLIED, MERGED: the server now holds the user's field tmp). The user's
   * later update behind it removed tmp. It is sent as a create with base 0 (empty base), where a field absent from
   * the document is "not touched", so the removal is silently lost: the server keeps tmp for ever and the app is
   * told the write merged.
   */
  @Test
  void fieldRemovalBehindAMergedCreateIsNotLost() throws Exception {
    String scope = "rv-remove";
    EntityKey key = new EntityKey(scope, "note_lww", "m");
    offlineClock.set(Instant.now());
    Device off = offline(scope);
    try (Device on = online(scope); off) {
      on.client.start();
      on.client.create("note_lww", scope, "m", fields("status", "online", "extra", "online"));
      on.awaitSynced();
      offlineClock.set(Instant.now().plus(Duration.ofSeconds(1)));
      off.client.create("note_lww", scope, "m", fields("status", "offline", "tmp", "offline"));
      offlineClock.advance(Duration.ofMillis(10));
      off.client.update(key, fields("status", "offline"));
      off.client.start();
      off.awaitSynced();
      // The create's merge is the one verdict: the update behind it is rebased onto the merge and applies.
      await("the create's verdict", () -> off.conflicts.size() + off.rejected.size() >= 1);
      assertThat(serverRow(scope, "m").get("data")).as("the user removed tmp after creating it (latest write)")
          .asString().doesNotContain("tmp");
    }
  }

  /**
   * Manual policy, create then delete offline, the create meets another device's create and is QUEUED. The delete
   * behind it is dropped on the client, never sent, yet the app hears CONFLICT/QUEUED for it carrying the CREATE's
   * conflict_id (client.md's table promises each chained delta "a conflict of its own (its own conflict_id)"). A person
   * resolving "the delete" with TAKE_CLIENT writes the create's document: the opposite of what the user did.
   */
  @Test
  void deleteBehindAQueuedCreateIsNotReportedAsQueuedUnderAnotherDeltasConflictId() throws Exception {
    String scope = "rv-manual";
    EntityKey key = new EntityKey(scope, "note_manual", "x");
    offlineClock.set(Instant.now());
    Device off = offline(scope);
    try (Device on = online(scope); off) {
      off.client.create("note_manual", scope, "x", doc("status", "offline"));
      off.client.delete(key);
      String deleteId = off.client.outbox().get(1).deltaId();
      on.client.start();
      on.client.create("note_manual", scope, "x", doc("status", "online"));
      on.awaitSynced();
      off.client.start();
      off.awaitSynced();
      await("two verdicts", () -> off.conflicts.size() + off.rejected.size() == 2);
      DeltaResult create = off.conflicts.get(0);
      DeltaResult delete = off.conflicts.get(1);
      assertThat(create.getResolution().getOutcome()).isEqualTo(io.deltasync.v1.ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
      assertThat(delete.getResolution().getConflictId()).as("the dropped delete's conflict id")
          .isNotEqualTo(create.getResolution().getConflictId());
      assertThat(delete.getDeltaId()).isEqualTo(deleteId);
      assertThat(delete.hasResolution()).as("no policy decided the dropped delete").isFalse();
      assertThat(delete.getError().getMessage()).contains("followed delta " + create.getDeltaId());
    }
  }
}

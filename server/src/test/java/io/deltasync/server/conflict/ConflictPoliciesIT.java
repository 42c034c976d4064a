package io.deltasync.server.conflict;

import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Timestamp;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.SyncStatus;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every policy against every kind of conflict, on the real database; the table is the one in docs/conflicts.md.
 * Client B writes first (with the server's clock); client A then pushes a delta based on the state before B's
 * write, its clock either later than B's write or an hour earlier.
 */
class ConflictPoliciesIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final AtomicInteger IDS = new AtomicInteger();

  enum Scenario { UPDATE_UPDATE, UPDATE_DELETE, DELETE_UPDATE, CREATE_CREATE, CREATE_OVER_TOMBSTONE, DELETE_DELETE }

  private static DeltaResult push(String client, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build())
        .getResults(0);
  }

  private static Delta delta(String id, Operation operation, long base, String title) {
    Delta.Builder delta = Delta.newBuilder().setDeltaId(java.util.UUID.randomUUID().toString())
        .setEntityType("note").setEntityId(id).setScope("policies").setOperation(operation)
        .setBaseRowVersion(base);
    if (title != null) {
      delta.setData(doc("title", title));
    }
    return delta.build();
  }

  /**
   * The entity as a client following the change log sees it last, once the log shows the version the table holds:
   * a change becomes visible to readers only when every transaction that began before it has ended (the watermark),
   * and other work of the server (bookkeeping, the live reader) may hold that back for a moment after the push.
   */
  private static Entity current(String id) {
    Long stored = server.sql().fetchOptional("select row_version from entity where entity_id = ?", id)
        .map(r -> r.get(0, Long.class)).orElse(null);
    long give = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    while (true) {
      Entity latest = readLog(id);
      if (stored == null || (latest != null && latest.getRowVersion() >= stored) || System.nanoTime() > give) {
        return latest;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  private static Entity readLog(String id) {
    Entity latest = null;
    String cursor = "";
    io.deltasync.v1.PullResponse page;
    do {
      page = server.sync().pull(PullRequest.newBuilder().addScopes("policies").setCursor(cursor).build());
      for (var change : page.getChangesList()) {
        if (change.getEntity().getEntityId().equals(id)) {
          latest = change.getEntity();
        }
      }
      cursor = page.getNextCursor();
    } while (page.getHasMore());
    return latest;
  }

  @ParameterizedTest(name = "{0} under {1}, client clock {2}")
  @CsvSource({
      // scenario,            policy,          clock,   status,   outcome,     final state
      "UPDATE_UPDATE,         LAST_WRITE_WINS, LATER,   APPLIED,  CLIENT_WON,  client",
      "UPDATE_UPDATE,         LAST_WRITE_WINS, EARLIER, CONFLICT, SERVER_WON,  server",
      "UPDATE_UPDATE,         CLIENT_WINS,     EARLIER, APPLIED,  CLIENT_WON,  client",
      "UPDATE_UPDATE,         SERVER_WINS,     LATER,   CONFLICT, SERVER_WON,  server",
      "UPDATE_UPDATE,         MANUAL,          LATER,   CONFLICT, QUEUED,      server",
      "UPDATE_DELETE,         LAST_WRITE_WINS, LATER,   APPLIED,  CLIENT_WON,  client",
      "UPDATE_DELETE,         LAST_WRITE_WINS, EARLIER, CONFLICT, SERVER_WON,  deleted",
      "UPDATE_DELETE,         CLIENT_WINS,     EARLIER, APPLIED,  CLIENT_WON,  client",
      "UPDATE_DELETE,         SERVER_WINS,     LATER,   CONFLICT, SERVER_WON,  deleted",
      "UPDATE_DELETE,         MANUAL,          LATER,   CONFLICT, QUEUED,      deleted",
      "DELETE_UPDATE,         LAST_WRITE_WINS, LATER,   APPLIED,  CLIENT_WON,  deleted",
      "DELETE_UPDATE,         LAST_WRITE_WINS, EARLIER, CONFLICT, SERVER_WON,  server",
      "DELETE_UPDATE,         CLIENT_WINS,     EARLIER, APPLIED,  CLIENT_WON,  deleted",
      "DELETE_UPDATE,         SERVER_WINS,     LATER,   CONFLICT, SERVER_WON,  server",
      "DELETE_UPDATE,         MANUAL,          LATER,   CONFLICT, QUEUED,      server",
      "CREATE_CREATE,         LAST_WRITE_WINS, LATER,   APPLIED,  CLIENT_WON,  client",
      "CREATE_CREATE,         LAST_WRITE_WINS, EARLIER, CONFLICT, SERVER_WON,  server",
      "CREATE_CREATE,         CLIENT_WINS,     EARLIER, APPLIED,  CLIENT_WON,  client",
      "CREATE_CREATE,         SERVER_WINS,     LATER,   CONFLICT, SERVER_WON,  server",
      "CREATE_CREATE,         MANUAL,          LATER,   CONFLICT, QUEUED,      server",
      "CREATE_OVER_TOMBSTONE, LAST_WRITE_WINS, LATER,   APPLIED,  CLIENT_WON,  client",
      "CREATE_OVER_TOMBSTONE, LAST_WRITE_WINS, EARLIER, CONFLICT, SERVER_WON,  deleted",
      "CREATE_OVER_TOMBSTONE, CLIENT_WINS,     EARLIER, APPLIED,  CLIENT_WON,  client",
      "CREATE_OVER_TOMBSTONE, SERVER_WINS,     LATER,   CONFLICT, SERVER_WON,  deleted",
      "CREATE_OVER_TOMBSTONE, MANUAL,          LATER,   CONFLICT, QUEUED,      deleted",
      "DELETE_DELETE,         LAST_WRITE_WINS, EARLIER, APPLIED,  UNSPECIFIED, deleted",
      "DELETE_DELETE,         CLIENT_WINS,     LATER,   APPLIED,  UNSPECIFIED, deleted",
      "DELETE_DELETE,         SERVER_WINS,     LATER,   APPLIED,  UNSPECIFIED, deleted",
      "DELETE_DELETE,         MANUAL,          LATER,   APPLIED,  UNSPECIFIED, deleted"})
  void decisionTable(Scenario scenario, String policy, String clock, String status, String outcome,
      String finalState) {
    String id = scenario.name().toLowerCase() + "-" + IDS.incrementAndGet();
    // B's write, with the server's clock.
    switch (scenario) {
      case UPDATE_UPDATE, DELETE_UPDATE -> {
        push("b", delta(id, Operation.OPERATION_CREATE, 0, "base"));
        push("b", delta(id, Operation.OPERATION_UPDATE, 1, "server"));
      }
      case UPDATE_DELETE, DELETE_DELETE -> {
        push("b", delta(id, Operation.OPERATION_CREATE, 0, "base"));
        push("b", delta(id, Operation.OPERATION_DELETE, 1, null));
      }
      case CREATE_CREATE -> push("b", delta(id, Operation.OPERATION_CREATE, 0, "server"));
      case CREATE_OVER_TOMBSTONE -> {
        push("b", delta(id, Operation.OPERATION_CREATE, 0, "server"));
        push("b", delta(id, Operation.OPERATION_DELETE, 1, null));
      }
    }
    // A's delta, based on the state before B's write.
    Delta mine = switch (scenario) {
      case UPDATE_UPDATE, UPDATE_DELETE -> delta(id, Operation.OPERATION_UPDATE, 1, "client");
      case DELETE_UPDATE, DELETE_DELETE -> delta(id, Operation.OPERATION_DELETE, 1, null);
      case CREATE_CREATE, CREATE_OVER_TOMBSTONE -> delta(id, Operation.OPERATION_CREATE, 0, "client");
    };
    Delta.Builder withPolicy = mine.toBuilder()
        .setConflictPolicy(ConflictPolicy.valueOf("CONFLICT_POLICY_" + policy));
    if (clock.equals("EARLIER")) {
      withPolicy.setClientModifiedAt(Timestamp.newBuilder().setSeconds(Instant.now().getEpochSecond() - 3600));
    }

    DeltaResult result = push("a", withPolicy.build());

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.valueOf("DELTA_STATUS_" + status));
    assertThat(result.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.valueOf("RESOLUTION_OUTCOME_"
        + outcome));
    if (!outcome.equals("UNSPECIFIED")) {
      assertThat(result.getResolution().getPolicy()).isEqualTo(ConflictPolicy.valueOf("CONFLICT_POLICY_" + policy));
    }
    Entity after = current(id);
    if (outcome.equals("QUEUED")) {
      // Queuing is bookkeeping, not a change (docs/conflicts.md, "Manual"): the log's latest change is the version
      // the delta met, and the result holds that version with the conflict state recorded on it.
      assertThat(result.getEntity().toBuilder().setSyncStatus(SyncStatus.SYNC_STATUS_SYNCED).clearConflictData()
          .build()).as("the result holds the version the server now has").isEqualTo(after);
      assertThat(server.sql().fetchValue("select sync_status from entity where entity_id = ?", id))
          .isEqualTo("conflict");
      after = result.getEntity();
    } else {
      assertThat(result.getEntity()).as("the result holds what the server now has").isEqualTo(after);
    }
    switch (finalState) {
      case "deleted" -> assertThat(after.getIsDeleted()).isTrue();
      default -> {
        assertThat(after.getIsDeleted()).isFalse();
        assertThat(after.getData()).isEqualTo(doc("title", finalState));
      }
    }
    if (outcome.equals("QUEUED")) {
      assertThat(after.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_CONFLICT);
      assertThat(after.getConflictData().getFieldsOrThrow("conflict_id").getStringValue())
          .isEqualTo(result.getResolution().getConflictId());
    } else {
      assertThat(after.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_SYNCED);
    }
  }

  @Test
  void lastWriteWinsKeepsBothClientsEditsToDifferentFields() {
    String id = "fields-" + IDS.incrementAndGet();
    Delta create = delta(id, Operation.OPERATION_CREATE, 0, null).toBuilder()
        .setData(doc("title", "t0").toBuilder().putAllFields(doc("body", "b0").getFieldsMap())).build();
    push("a", create);
    Delta bodyEdit = delta(id, Operation.OPERATION_UPDATE, 1, null).toBuilder()
        .setData(doc("title", "t0").toBuilder().putAllFields(doc("body", "body by b").getFieldsMap())).build();
    push("b", bodyEdit);
    Delta titleEdit = delta(id, Operation.OPERATION_UPDATE, 1, null).toBuilder()
        .setData(doc("title", "title by a").toBuilder().putAllFields(doc("body", "b0").getFieldsMap()))
        .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS).build();

    DeltaResult result = push("a", titleEdit);

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(result.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(result.getResolution().getClientFieldsList()).containsExactly("title");
    assertThat(result.getEntity().getData()).isEqualTo(doc("title", "title by a").toBuilder()
        .putAllFields(doc("body", "body by b").getFieldsMap()).build());
    assertThat(result.getEntity().getRowVersion()).isEqualTo(3);
  }

  @Test
  void aClientWhoseClockRunsAnHourAheadDoesNotWinEveryFutureConflict() throws Exception {
    String id = "skew-" + IDS.incrementAndGet();
    push("honest", delta(id, Operation.OPERATION_CREATE, 0, "v0"));
    Timestamp anHourAhead = Timestamp.newBuilder().setSeconds(Instant.now().getEpochSecond() + 3600).build();
    DeltaResult fast = push("fast-clock", delta(id, Operation.OPERATION_UPDATE, 1, "from the future").toBuilder()
        .setClientModifiedAt(anHourAhead).setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS)
        .build());
    assertThat(fast.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

    // Its timestamp was capped at the server's clock plus the allowed skew (2 s): once that has passed, an
    // honest concurrent edit (same base, so a conflict) made later wins, as it should.
    Thread.sleep(2_500);
    DeltaResult honest = push("honest", delta(id, Operation.OPERATION_UPDATE, 1, "honest and later").toBuilder()
        .setClientModifiedAt(com.google.protobuf.util.Timestamps.fromMillis(System.currentTimeMillis()))
        .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS).build());
    assertThat(honest.getStatus()).as("%s; clocks: %s", honest, server.sql().fetch(
        "select write_clock_us, field_clocks from entity where entity_id = ?", id))
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(honest.getEntity().getData()).isEqualTo(doc("title", "honest and later"));
  }

  @Test
  void timestampsKeepMicrosecondsEndToEnd() {
    String id = "micros-" + IDS.incrementAndGet();
    Entity created = push("a", delta(id, Operation.OPERATION_CREATE, 0, "x")).getEntity();
    long stored = server.sql().fetchSingle("select (extract(epoch from last_modified_at) * 1000000)::bigint "
        + "from entity where entity_id = ?", id).get(0, Long.class);
    long wire = created.getLastModifiedAt().getSeconds() * 1_000_000 + created.getLastModifiedAt().getNanos() / 1_000;
    assertThat(wire).isEqualTo(stored);
    assertThat(created.getLastModifiedAt().getNanos() % 1_000).isZero();
  }
}

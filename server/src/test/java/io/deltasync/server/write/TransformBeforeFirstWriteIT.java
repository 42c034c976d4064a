package io.deltasync.server.write;

import static io.deltasync.server.write.OperationalTransformIT.create;
import static io.deltasync.server.write.OperationalTransformIT.edits;
import static io.deltasync.server.write.OperationalTransformIT.editsOf;
import static io.deltasync.server.write.OperationalTransformIT.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.conflict.ConflictPolicies;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.ResolutionOutcome;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The operational transform of a batch's first delta runs before its transaction has a transaction id
 * (docs/operational-transform.md, "Bounded work"): PostgreSQL assigns one at the first write, and from then on the
 * transaction holds back the change feed's watermark for every client. Observed from inside the transform with
 * pg_current_xact_id_if_assigned().
 */
class TransformBeforeFirstWriteIT {
  private static final List<Boolean> assignedWhileTransforming = new CopyOnWriteArrayList<>();
  private static WriteService writes;

  @BeforeAll
  static void service() {
    SyncStore store = new SyncStore(DSL.using(TestPostgres.newDatabase().dataSource(), SQLDialect.POSTGRES));
    writes = new WriteService(store, 256 * 1024, 1_000,
        new ConflictPolicies(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM, Map.of(), true),
        Duration.ofSeconds(2), Clock.systemUTC(), 4 * 1024 * 1024, () -> { },
        tx -> assignedWhileTransforming.add(tx.transactionIdAssigned()));
  }

  private static List<io.deltasync.v1.EditOperation> typing(String text) {
    return edits("[{\"path\": [{\"key\": \"text\"}], \"text\": {\"components\": [{\"insert\": \"" + text
        + "\"}]}}]");
  }

  @Test
  void theFirstDeltasTransformRunsBeforeTheTransactionWrites() {
    writes.push("alice", List.of(create("first", json("{\"text\": \"\"}"))));
    writes.push("alice", List.of(editsOf("first", 1, typing("a"))));
    assignedWhileTransforming.clear();

    DeltaResult merged = writes.push("bob", List.of(editsOf("first", 1, typing("b")))).getFirst();

    assertThat(merged.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(merged.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(merged.getEntity().getData().getFieldsOrThrow("text").getStringValue()).isEqualTo("ab");
    assertThat(assignedWhileTransforming).containsExactly(false);
  }

  @Test
  void laterDeltasOfABatchFindTheIdAssignedByTheDeltasBefore() {
    writes.push("alice", List.of(create("later", json("{\"text\": \"\"}"))));
    writes.push("alice", List.of(editsOf("later", 1, typing("a"))));
    assignedWhileTransforming.clear();

    List<DeltaResult> results = writes.push("bob", List.of(create("earlier-in-batch", json("{}")),
        editsOf("later", 1, typing("b"))));

    assertThat(results).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    // The documented limit of this layout: the bound on edits per delta is what bounds the time held here.
    assertThat(assignedWhileTransforming).containsExactly(true);
  }
}

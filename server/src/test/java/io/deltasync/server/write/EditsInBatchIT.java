package io.deltasync.server.write;

import static io.deltasync.server.write.OperationalTransformIT.create;
import static io.deltasync.server.write.OperationalTransformIT.dataOf;
import static io.deltasync.server.write.OperationalTransformIT.edits;
import static io.deltasync.server.write.OperationalTransformIT.editsOf;
import static io.deltasync.server.write.OperationalTransformIT.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A batch is one transaction: the edits of one delta must be logged with that delta's change only, never with the
 * changes of the deltas after it (a later OT merge would transform against edits that were never applied).
 */
class EditsInBatchIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);

  private static List<DeltaResult> push(String clientId, io.deltasync.v1.Delta... deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(List.of(deltas)).build())
        .getResultsList();
  }

  @Test
  void editsOfOneDeltaAreNotLoggedWithTheNextDeltasOfItsBatch() {
    push("c1", create("a", json("{\"t\": \"hello\"}")), create("b", json("{\"t\": \"world\"}")));
    List<DeltaResult> batch = push("c1",
        editsOf("a", 1, edits("[{\"path\": [{\"key\": \"t\"}], \"text\": {\"components\": [{\"insert\": \"X\"}]}}]")),
        dataOf("b", 1, json("{\"t\": \"world, again\"}")),
        create("c", json("{\"t\": \"new\"}")));
    assertThat(batch).allMatch(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED);

    assertThat(server.sql().fetch("select entity_id, row_version, edits is not null from change_log "
        + "where scope = 'ot' order by entity_id, row_version").map(r -> r.get(0) + "/" + r.get(1) + "/" + r.get(2)))
        .containsExactly("a/1/false", "a/2/true", "b/1/false", "b/2/false", "c/1/false");

    // So an edit of b based on version 1 cannot be transformed against a whole-data write: it falls back.
    DeltaResult late = push("c2", editsOf("b", 1,
        edits("[{\"path\": [{\"key\": \"t\"}], \"text\": {\"components\": [{\"retain\": 5}, {\"insert\": \"!\"}]}}]")))
        .getFirst();
    assertThat(late.getResolution().getOutcome()).isNotEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
  }
}

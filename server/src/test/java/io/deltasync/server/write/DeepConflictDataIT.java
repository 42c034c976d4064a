package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * conflict_data stays within what clients can parse, whoever writes it: a queued conflict of a document at the
 * nesting limit, a plain-SQL writer, and a row written before the database guarded it never make the entity's
 * writes fail.
 */
class DeepConflictDataIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL);

  static Struct deep(int levels, String leaf) {
    Struct document = Deltas.doc("v", leaf);
    for (int i = 1; i < levels; i++) {
      document = Struct.newBuilder().putFields("n", Value.newBuilder().setStructValue(document).build()).build();
    }
    return document;
  }

  private static DeltaResult push(String client, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  @Test
  void aConflictOfADocumentAtTheNestingLimitIsQueued() {
    assertThat(push("a", Deltas.create("deep", deep(32, "0"))).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(push("a", Deltas.update("deep", 1, deep(32, "1"))).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    DeltaResult stale = push("b", Deltas.update("deep", 1, deep(32, "2")));
    assertThat(stale.getResolution().getOutcome()).as(stale.getError().getMessage())
        .isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
  }

  @Test
  void plainSqlCannotStoreAConflictDataClientsCannotParse() {
    server.sql().execute("insert into entity (scope, entity_type, entity_id) values ('team-a', 'note', 'guarded')");
    String tooDeep = "{\"a\":".repeat(40) + "1" + "}".repeat(40);
    assertThatThrownBy(() -> server.sql().execute("update entity set conflict_data = '" + tooDeep
        + "'::jsonb where entity_id = 'guarded'"))
        .hasMessageContaining("entity_conflict_data_fits");
  }

  @Test
  void aRowWrittenBeforeTheGuardIsRefusedWithItsReasonUntilRepaired() {
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) values "
        + "('team-a', 'note', 'legacy', '{\"v\": \"0\"}')");
    String tooDeep = "{\"a\":".repeat(40) + "1" + "}".repeat(40);
    // As an older schema would have let it through.
    server.sql().execute("alter table entity drop constraint entity_conflict_data_fits");
    try {
      server.sql().execute("update entity set conflict_data = '" + tooDeep + "'::jsonb where entity_id = 'legacy'");
    } finally {
      server.sql().execute("alter table entity add constraint entity_conflict_data_fits check (conflict_data is null "
          + "or deltasync_document_fits(conflict_data)) not valid");
    }
    // The database refuses to carry the bad conflict_data forward: the delta is rejected alone, with the reason
    // (not INTERNAL), until an operator repairs the row as V12 describes; then the same delta applies.
    Delta update = Deltas.update("legacy", 2, Deltas.doc("v", "1"));
    DeltaResult refused = push("a", update);
    assertThat(refused.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(refused.getError().getCode()).isEqualTo(com.google.rpc.Code.INVALID_ARGUMENT_VALUE);
    assertThat(refused.getError().getMessage()).contains("entity_conflict_data_fits");
    server.sql().execute("update entity set conflict_data = null where entity_id = 'legacy'");
    DeltaResult applied = push("a", update.toBuilder().setBaseRowVersion(3).build());
    assertThat(applied.getStatus()).as(applied.getError().getMessage()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(server.sql().fetchValue("select data->>'v' from entity where entity_id = 'legacy'")).isEqualTo("1");
  }
}

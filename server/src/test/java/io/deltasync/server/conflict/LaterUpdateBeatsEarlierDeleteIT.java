package io.deltasync.server.conflict;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Under last-write-wins a later update always beats an earlier delete (docs/conflicts.md), even after a field merge
 * stamped the entity with a clock older than an edit it kept.
 */
class LaterUpdateBeatsEarlierDeleteIT {
  private static final String SCOPE = "clocks";

  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);

  private static final Instant T = Instant.now().minusSeconds(3600);  // well below the skew cap

  private static Struct doc(String a, String b) {
    return Struct.newBuilder().putFields("a", Value.newBuilder().setStringValue(a).build())
        .putFields("b", Value.newBuilder().setStringValue(b).build()).build();
  }

  private static DeltaResult push(String client, Operation operation, long base, Struct data, int minutesAfterT) {
    Delta.Builder delta = Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
        .setEntityId("shared").setScope(SCOPE).setOperation(operation).setBaseRowVersion(base)
        .setClientModifiedAt(Timestamp.newBuilder().setSeconds(T.getEpochSecond() + 60L * minutesAfterT));
    if (data != null) {
      delta.setData(data);
    }
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  @Test
  void aDeleteEarlierThanAnEditKeptByAFieldMergeDoesNotDestroyIt() {
    // Alice creates the note at T.
    assertThat(push("alice", Operation.OPERATION_CREATE, 0, doc("0", "0"), 0).getEntity().getRowVersion())
        .isEqualTo(1);
    // Bob edits field a at T+30 min.
    DeltaResult bob = push("bob", Operation.OPERATION_UPDATE, 1, doc("bob", "0"), 30);
    assertThat(bob.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    // Carol edited field b offline at T+10 min, from version 1: merged field by field, both edits kept.
    DeltaResult carol = push("carol", Operation.OPERATION_UPDATE, 1, doc("0", "carol"), 10);
    assertThat(carol.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(carol.getEntity().getData()).isEqualTo(doc("bob", "carol"));

    // Alice deleted the note offline at T+20 min, from version 1: later than Carol's edit, earlier than Bob's.
    DeltaResult delete = push("alice", Operation.OPERATION_DELETE, 1, null, 20);

    assertThat(delete.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(delete.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON);
    assertThat(delete.getEntity().getIsDeleted()).isFalse();
    assertThat(delete.getEntity().getData()).isEqualTo(doc("bob", "carol"));
    assertThat(server.sql().resultQuery("select is_deleted from entity where scope = ? and entity_id = 'shared'",
        SCOPE).fetchSingle().get(0, Boolean.class)).isFalse();

    // A delete later than every edit still wins.
    DeltaResult laterDelete = push("alice", Operation.OPERATION_DELETE, 1, null, 40);
    assertThat(laterDelete.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(laterDelete.getEntity().getIsDeleted()).isTrue();
  }
}

package io.deltasync.server.write;

import static io.deltasync.server.write.OperationalTransformIT.create;
import static io.deltasync.server.write.OperationalTransformIT.edits;
import static io.deltasync.server.write.OperationalTransformIT.editsOf;
import static io.deltasync.server.write.OperationalTransformIT.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * ENABLE_OPERATIONAL_TRANSFORM=false: deltas asking for operational transform are resolved by the default policy
 * and the result says so; edits that meet no conflict still apply (they are a way to write, not a policy).
 */
class OperationalTransformDisabledIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withConflicts(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, config.conflicts())
      .withOperationalTransform(false));

  private static DeltaResult push(String clientId, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build())
        .getResults(0);
  }

  @Test
  void aDeltaAskingForOperationalTransformFallsBackToTheDefaultPolicyAndSaysSo() {
    push("setup", create("off", json("{\"title\": \"ab\", \"n\": 1}")));
    DeltaResult first = push("alice", editsOf("off", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "A"}]}}]""")));
    assertThat(first.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(first.hasResolution()).as("edits at the base version need no policy").isFalse();
    assertThat(first.getEntity().getData()).isEqualTo(json("{\"title\": \"aAb\", \"n\": 1}"));

    DeltaResult second = push("bob", editsOf("off", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "B"}]}},
         {"objectSet": {"key": "n", "value": 2}}]"""))
        .toBuilder().setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM).build());

    assertThat(second.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(second.getResolution().getPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
    assertThat(second.getResolution().getExplanation())
        .contains("ENABLE_OPERATIONAL_TRANSFORM=false")
        .contains("resolved with CONFLICT_POLICY_LAST_WRITE_WINS instead");
    assertThat(second.getRebaseEditsList()).isEmpty();
    // Field-level last-write-wins over Bob's whole document (his edits applied to his base): both wrote title,
    // and Bob's is the later write; only he wrote n.
    assertThat(second.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON);
    assertThat(second.getEntity().getData()).isEqualTo(json("{\"title\": \"aBb\", \"n\": 2}"));
  }
}

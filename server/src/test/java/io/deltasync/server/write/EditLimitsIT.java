package io.deltasync.server.write;

import static io.deltasync.server.write.OperationalTransformIT.badRequest;
import static io.deltasync.server.write.OperationalTransformIT.create;
import static io.deltasync.server.write.OperationalTransformIT.editsOf;
import static io.deltasync.server.write.OperationalTransformIT.edits;
import static io.deltasync.server.write.OperationalTransformIT.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One delta carries at most DELTASYNC_MAX_EDITS_PER_DELTA edits (default 1,000): more is refused alone with
 * LIMIT_EXCEEDED before anything reaches the database; at the limit the delta applies, and merges.
 */
class EditLimitsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);

  /** {@code count} edits, each typing one "x" at the start of the text. */
  private static List<EditOperation> typing(int count) {
    return edits(IntStream.range(0, count)
        .mapToObj(i -> "{\"path\": [{\"key\": \"text\"}], \"text\": {\"components\": [{\"insert\": \"x\"}]}}")
        .collect(Collectors.joining(",", "[", "]")));
  }

  private static DeltaResult push(String clientId, Delta... deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(List.of(deltas)).build())
        .getResults(deltas.length - 1);
  }

  private static String reason(com.google.rpc.Status status) throws InvalidProtocolBufferException {
    for (var detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        return detail.unpack(ErrorInfo.class).getReason();
      }
    }
    throw new AssertionError("no ErrorInfo in " + status);
  }

  @Test
  void oneEditPastTheLimitIsRefusedAloneAsLimitExceeded() throws InvalidProtocolBufferException {
    push("writer", create("past", json("{\"text\": \"\"}")));

    DeltaResult result = push("writer", editsOf("past", 1, typing(1_001)));

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(result.getError().getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
    assertThat(reason(result.getError())).isEqualTo("LIMIT_EXCEEDED");
    assertThat(badRequest(result).getFieldViolationsList()).singleElement().satisfies(violation -> {
      assertThat(violation.getField()).isEqualTo("deltas[0].edits");
      assertThat(violation.getReason()).isEqualTo("LIMIT_EXCEEDED");
      assertThat(violation.getDescription()).contains("1001").contains("<= 1000");
    });
    assertThat(server.sql().fetchOne("SELECT row_version FROM entity WHERE entity_id = 'past'")
        .get(0, Long.class)).isEqualTo(1);
  }

  @Test
  void aDeltaAtTheLimitAppliesAndMerges() {
    push("writer", create("at", json("{\"text\": \"\"}")));

    DeltaResult applied = push("writer", editsOf("at", 1, typing(1_000)));
    assertThat(applied.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(applied.getEntity().getData().getFieldsOrThrow("text").getStringValue()).hasSize(1_000);

    // Another client typed meanwhile: 1,000 edits based on the older version are transformed and merged.
    push("other", editsOf("at", 2, edits("""
        [{"path": [{"key": "text"}], "text": {"components": [{"insert": "o"}]}}]""")));
    DeltaResult merged = push("writer", editsOf("at", 2, typing(1_000)));
    assertThat(merged.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(merged.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(merged.getEntity().getData().getFieldsOrThrow("text").getStringValue()).hasSize(2_001);
  }

  @Test
  void clientsAreToldTheLimit() {
    assertThat(server.sync().getStatus(GetStatusRequest.getDefaultInstance()).getLimits().getMaxEditsPerDelta())
        .isEqualTo(1_000);
  }
}

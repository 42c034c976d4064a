package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import com.google.rpc.BadRequest.FieldViolation;
import io.deltasync.v1.Delta;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Operation;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class DeltaValidatorTest {
  private static final int MAX_DATA_BYTES = 1024;
  private final DeltaValidator validator = new DeltaValidator(MAX_DATA_BYTES, 1_000);

  private static Delta valid() {
    return Delta.newBuilder().setDeltaId("d-1").setEntityType("note").setEntityId("n-1").setScope("team-a")
        .setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(3)
        .setData(Struct.newBuilder().putFields("title", Value.newBuilder().setStringValue("x").build())).build();
  }

  private static Value string(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static Value nested(int depth) {
    Value value = string("leaf");
    for (int i = 0; i < depth; i++) {
      value = Value.newBuilder().setStructValue(Struct.newBuilder().putFields("k", value)).build();
    }
    return value;
  }

  @Test
  void aWellFormedDeltaPassesWithItsJson() {
    DeltaValidator.Outcome outcome = validator.validate(valid(), "deltas[0]");
    assertThat(outcome.violations()).isEmpty();
    assertThat(outcome.valid().dataJson()).isEqualTo("{\"title\":\"x\"}");
    assertThat(outcome.valid().base().rowVersion()).isEqualTo(3);
  }

  @Test
  void sizeAndNestingLimitsAreLimitExceededAndOtherProblemsInvalidArgument() {
    Delta tooBig = valid().toBuilder().setData(Struct.newBuilder().putFields("big", string("x".repeat(
        MAX_DATA_BYTES)))).build();
    Delta tooDeep = valid().toBuilder().setData(Struct.newBuilder().putFields("deep", nested(40))).build();
    Delta badScope = valid().toBuilder().setScope("no spaces").build();
    assertThat(validator.validate(tooBig, "d").reason()).isEqualTo(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED);
    assertThat(validator.validate(tooDeep, "d").reason()).isEqualTo(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED);
    assertThat(validator.validate(tooDeep, "d").violations().getFirst().getReason()).isEqualTo("LIMIT_EXCEEDED");
    assertThat(validator.validate(badScope, "d").reason())
        .isEqualTo(ErrorReason.ERROR_REASON_INVALID_ARGUMENT);
    assertThat(validator.validate(tooBig.toBuilder().setScope("no spaces").build(), "d").reason())
        .isEqualTo(ErrorReason.ERROR_REASON_INVALID_ARGUMENT);
  }

  @Test
  void moreEditsThanTheLimitAreLimitExceededOnTheEditsField() {
    DeltaValidator small = new DeltaValidator(MAX_DATA_BYTES, 2);
    EditOperation edit = EditOperation.newBuilder()
        .setObjectSet(io.deltasync.v1.ObjectSet.newBuilder().setKey("t").setValue(string("v"))).build();
    Delta atLimit = valid().toBuilder().clearData().addEdits(edit).addEdits(edit).build();
    Delta past = atLimit.toBuilder().addEdits(edit).build();

    assertThat(small.validate(atLimit, "deltas[1]").violations()).isEmpty();
    DeltaValidator.Outcome refused = small.validate(past, "deltas[1]");
    assertThat(refused.reason()).isEqualTo(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED);
    assertThat(refused.violations()).singleElement().satisfies(v -> {
      assertThat(v.getField()).isEqualTo("deltas[1].edits");
      assertThat(v.getReason()).isEqualTo("LIMIT_EXCEEDED");
      assertThat(v.getDescription()).isEqualTo("count: 3 edits (expected: <= 2; split them over several deltas, "
          + "or compose them)");
    });
  }

  static Stream<Arguments> malformed() {
    return Stream.of(
        Arguments.of("missing delta id", (UnaryOperator<Delta.Builder>) d -> d.clearDeltaId(),
            "deltas[2].delta_id", "required"),
        Arguments.of("delta id with a space", (UnaryOperator<Delta.Builder>) d -> d.setDeltaId("a b"),
            "deltas[2].delta_id", "printable ASCII"),
        Arguments.of("delta id too long", (UnaryOperator<Delta.Builder>) d -> d.setDeltaId("x".repeat(129)),
            "deltas[2].delta_id", "length: 129 (expected: <= 128)"),
        Arguments.of("missing entity type", (UnaryOperator<Delta.Builder>) d -> d.clearEntityType(),
            "deltas[2].entity_type", "required"),
        Arguments.of("entity type with a space", (UnaryOperator<Delta.Builder>) d -> d.setEntityType("my note"),
            "deltas[2].entity_type", "expected: a letter"),
        Arguments.of("missing entity id", (UnaryOperator<Delta.Builder>) d -> d.clearEntityId(),
            "deltas[2].entity_id", "required"),
        Arguments.of("entity id with a control character",
            (UnaryOperator<Delta.Builder>) d -> d.setEntityId("a\nb"), "deltas[2].entity_id", "control character"),
        Arguments.of("entity id too long", (UnaryOperator<Delta.Builder>) d -> d.setEntityId("é".repeat(257)),
            "deltas[2].entity_id", "length: 257 characters"),
        Arguments.of("missing scope", (UnaryOperator<Delta.Builder>) d -> d.clearScope(),
            "deltas[2].scope", "required"),
        Arguments.of("bad scope", (UnaryOperator<Delta.Builder>) d -> d.setScope("team a;drop"),
            "deltas[2].scope", "expected: 1 to 128"),
        Arguments.of("unknown operation", (UnaryOperator<Delta.Builder>) d -> d.setOperationValue(9),
            "deltas[2].operation", "unknown value 9"),
        Arguments.of("unspecified operation", (UnaryOperator<Delta.Builder>) d -> d.clearOperation(),
            "deltas[2].operation", "required"),
        Arguments.of("update without a base", (UnaryOperator<Delta.Builder>) d -> d.clearBaseRowVersion(),
            "deltas[2].base_row_version", "required for OPERATION_UPDATE"),
        Arguments.of("negative base", (UnaryOperator<Delta.Builder>) d -> d.setBaseRowVersion(-1),
            "deltas[2].base_row_version", "-1 (expected: >= 0)"),
        Arguments.of("update without data", (UnaryOperator<Delta.Builder>) d -> d.clearData(),
            "deltas[2].data", "required for OPERATION_UPDATE"),
        Arguments.of("delete with data",
            (UnaryOperator<Delta.Builder>) d -> d.setOperation(Operation.OPERATION_DELETE),
            "deltas[2].data", "must be empty for OPERATION_DELETE"),
        Arguments.of("oversized data", (UnaryOperator<Delta.Builder>) d -> d.setData(Struct.newBuilder()
                .putFields("big", string("x".repeat(MAX_DATA_BYTES)))),
            "deltas[2].data", "size: 1034 bytes as JSON (expected: <= 1024)"),
        Arguments.of("NaN in data", (UnaryOperator<Delta.Builder>) d -> d.setData(Struct.newBuilder()
                .putFields("n", Value.newBuilder().setNumberValue(Double.NaN).build())),
            "deltas[2].data", "which JSON cannot represent"),
        Arguments.of("NUL in a string", (UnaryOperator<Delta.Builder>) d -> d.setData(Struct.newBuilder()
                .putFields("s", string("a\u0000b"))),
            "deltas[2].data", "U+0000"),
        Arguments.of("value without kind", (UnaryOperator<Delta.Builder>) d -> d.setData(Struct.newBuilder()
                .putFields("s", Value.getDefaultInstance())),
            "deltas[2].data", "has no kind set"),
        Arguments.of("nested too deep", (UnaryOperator<Delta.Builder>) d -> d.setData(Struct.newBuilder()
                .putFields("deep", nested(40))),
            "deltas[2].data", "nested deeper than 32 levels"),
        Arguments.of("deep inside a list", (UnaryOperator<Delta.Builder>) d -> d.setData(Struct.newBuilder()
                .putFields("l", Value.newBuilder().setListValue(ListValue.newBuilder().addValues(nested(40)))
                    .build())),
            "deltas[2].data", "nested deeper than 32 levels"),
        Arguments.of("invalid client timestamp", (UnaryOperator<Delta.Builder>) d -> d.setClientModifiedAt(
                Timestamp.newBuilder().setSeconds(1).setNanos(-5)),
            "deltas[2].client_modified_at", "not a valid timestamp"),
        Arguments.of("unknown conflict policy", (UnaryOperator<Delta.Builder>) d -> d.setConflictPolicyValue(42),
            "deltas[2].conflict_policy", "unknown value 42"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void namesTheBadField(String name, UnaryOperator<Delta.Builder> breakIt, String field, String description) {
    DeltaValidator.Outcome outcome = validator.validate(breakIt.apply(valid().toBuilder()).build(), "deltas[2]");
    assertThat(outcome.isValid()).isFalse();
    assertThat(outcome.violations()).anySatisfy(v -> {
      assertThat(v.getField()).isEqualTo(field);
      assertThat(v.getDescription()).contains(description);
    });
  }

  @Test
  void reportsEveryViolationAtOnce() {
    Delta empty = Delta.getDefaultInstance();
    List<String> fields = validator.validate(empty, "deltas[0]").violations().stream()
        .map(FieldViolation::getField).toList();
    assertThat(fields).contains("deltas[0].delta_id", "deltas[0].entity_type", "deltas[0].entity_id",
        "deltas[0].scope", "deltas[0].operation");
  }

  @Test
  void createNeedsNoBaseAndAcceptsAnEmptyDocumentAndJsonNull() {
    Delta create = valid().toBuilder().setOperation(Operation.OPERATION_CREATE).clearBaseRowVersion()
        .setData(Struct.newBuilder().putFields("gone", Value.newBuilder().setNullValue(NullValue.NULL_VALUE)
            .build())).build();
    assertThat(validator.validate(create, "d").violations()).isEmpty();
    Delta emptyDoc = create.toBuilder().setData(Struct.getDefaultInstance()).build();
    assertThat(validator.validate(emptyDoc, "d").valid().dataJson()).isEqualTo("{}");
  }

  @Test
  void deleteWithoutDataPasses() {
    Delta delete = valid().toBuilder().setOperation(Operation.OPERATION_DELETE).clearData().build();
    assertThat(validator.validate(delete, "d").violations()).isEmpty();
  }

  @Test
  void updateWithEditsButNoDataIsNotADataViolation() {
    Delta edits = valid().toBuilder().clearData().addEdits(EditOperation.getDefaultInstance()).build();
    assertThat(validator.validate(edits, "d").violations()).extracting(FieldViolation::getField)
        .doesNotContain("d.data");
  }
}

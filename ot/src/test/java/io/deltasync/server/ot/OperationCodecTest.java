package io.deltasync.server.ot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.ArrayInsert;
import io.deltasync.v1.ArrayMove;
import io.deltasync.v1.ArrayRemove;
import io.deltasync.v1.ArrayReplace;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.ObjectMerge;
import io.deltasync.v1.ObjectSet;
import io.deltasync.v1.PathElement;
import io.deltasync.v1.TextEdit;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The wire conversion: malformed edits are refused with every bad field named; valid ones round-trip. */
class OperationCodecTest {

  static LongStream seeds() {
    return Seeds.seeds();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void everyEditRoundTrips(long seed) throws Exception {
    System.out.println("OperationCodecTest.everyEditRoundTrips seed=" + seed);
    for (int i = 0; i < Seeds.iterations() / 4; i++) {
      RandomEdits random = new RandomEdits(new Random(Seeds.caseSeed(seed, i)));
      List<Edit> edits = random.edits(random.document(), 1 + i % 5);
      assertThat(OperationCodec.fromProto(OperationCodec.toProto(edits))).as("seed=%d case=%d", seed, i)
          .isEqualTo(edits);
    }
  }

  @Test
  void reportsEveryViolationWithItsField() {
    Value noKind = Value.getDefaultInstance();
    Value nan = Value.newBuilder().setNumberValue(Double.NaN).build();
    List<EditOperation> edits = List.of(
        EditOperation.newBuilder().setArrayMove(ArrayMove.newBuilder().setFromIndex(0).setToIndex(1)).build(),
        EditOperation.newBuilder().addPath(PathElement.newBuilder().setKey("a"))
            .addPath(PathElement.getDefaultInstance()).setObjectSet(ObjectSet.newBuilder().setKey("k")).build(),
        EditOperation.newBuilder().addPath(PathElement.newBuilder().setIndex(-2))
            .setArrayRemove(ArrayRemove.newBuilder().setIndex(-1).setCount(0)).build(),
        EditOperation.newBuilder().build(),
        EditOperation.newBuilder().setText(TextEdit.newBuilder()
            .addComponents(io.deltasync.v1.TextComponent.newBuilder().setRetain(-3))
            .addComponents(io.deltasync.v1.TextComponent.getDefaultInstance())).build(),
        EditOperation.newBuilder().setArrayInsert(ArrayInsert.newBuilder().setIndex(0)).build(),
        EditOperation.newBuilder().setArrayInsert(ArrayInsert.newBuilder().setIndex(0).addValues(noKind)).build(),
        EditOperation.newBuilder().setArrayReplace(ArrayReplace.newBuilder().setIndex(0).setValue(
            Value.newBuilder().setStructValue(Struct.newBuilder().putFields("x/y", nan)))).build(),
        EditOperation.newBuilder().setObjectMerge(ObjectMerge.newBuilder().setFields(
            Struct.newBuilder().putFields("ok", Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build())
                .putFields("bad", noKind))).build());

    InvalidOperationException thrown = catchThrowableOfType(InvalidOperationException.class,
        () -> OperationCodec.fromProto(edits));

    assertThat(thrown.violations()).containsExactly(
        new EditViolation("edits[1].path[1]", "neither key nor index set"),
        new EditViolation("edits[1].object_set.value", "required"),
        new EditViolation("edits[2].path[0].index", "-2 (expected: >= 0)"),
        new EditViolation("edits[2].array_remove.index", "-1 (expected: >= 0)"),
        new EditViolation("edits[2].array_remove.count", "0 (expected: >= 1)"),
        new EditViolation("edits[3]", "no edit set (expected one of text, array_insert, array_remove, array_move, "
            + "array_replace, object_set, object_unset or object_merge)"),
        new EditViolation("edits[4].text.components[0].retain", "-3 (expected: >= 1)"),
        new EditViolation("edits[4].text.components[1]", "none of retain, insert or delete set"),
        new EditViolation("edits[5].array_insert.values", "empty (expected: at least 1 value)"),
        new EditViolation("edits[6].array_insert.values[0]",
            "no kind set (expected: null, number, string, bool, struct or list)"),
        new EditViolation("edits[7].array_replace.value", "NaN at '/x~1y' is not a JSON number"),
        new EditViolation("edits[8].object_merge.fields", "no kind set at '/bad' (expected: null, number, string, "
            + "bool, struct or list)"));
    assertThat(thrown).hasMessageStartingWith("edits[1].path[1]: neither key nor index set; ");
  }

  @Test
  void refusesTextCountsBelowOne() {
    List<EditOperation> edits = List.of(EditOperation.newBuilder()
        .addPath(PathElement.newBuilder().setKey("t"))
        .setText(TextEdit.newBuilder()
            .addComponents(io.deltasync.v1.TextComponent.newBuilder().setRetain(0))
            .addComponents(io.deltasync.v1.TextComponent.newBuilder().setInsert("x"))
            .addComponents(io.deltasync.v1.TextComponent.newBuilder().setDelete(0)))
        .build());

    InvalidOperationException thrown = catchThrowableOfType(InvalidOperationException.class,
        () -> OperationCodec.fromProto(edits));

    assertThat(thrown.violations()).containsExactly(
        new EditViolation("edits[0].text.components[0].retain", "0 (expected: >= 1)"),
        new EditViolation("edits[0].text.components[2].delete", "0 (expected: >= 1)"));
  }

  @Test
  void encodesEveryKind() throws Exception {
    List<Edit> edits = Fixtures.edits("""
        [
          {"path": [{"key": "t"}, {"index": 0}], "text": {"components": [{"retain": 1}, {"insert": "😀"}, {"delete": 2}]}},
          {"arrayInsert": {"index": 1, "values": [1, "two"]}},
          {"arrayRemove": {"index": 1, "count": 2}},
          {"arrayMove": {"fromIndex": 1, "toIndex": 2}},
          {"arrayReplace": {"index": 0, "value": null}},
          {"objectSet": {"key": "k", "value": {"a": []}}},
          {"objectUnset": {"key": "k"}},
          {"objectMerge": {"fields": {"a": 1, "b": false}}}
        ]""");
    assertThat(edits).extracting(Edit::kind).containsExactly("text", "array_insert", "array_remove", "array_move",
        "array_replace", "object_set", "object_unset", "object_merge");
    assertThat(edits.get(0).path()).isEqualTo(EditPath.of("t", 0));
    assertThat(OperationCodec.fromProto(OperationCodec.toProto(edits))).isEqualTo(edits);
  }
}

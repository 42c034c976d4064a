package io.deltasync.server.ot;

import static io.deltasync.server.ot.Fixtures.edits;
import static io.deltasync.server.ot.Fixtures.struct;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** What each kind of edit does to a document, and how a misfit is reported. */
class ApplyTest {

  @Test
  void textCountsCodePointsNotUtf16Units() throws Exception {
    // "😀" is one code point but two UTF-16 units: retain 2 must keep "a😀", not "a" plus half an emoji.
    Struct document = struct("{\"t\": \"a😀b\"}");
    Struct edited = OperationalTransform.apply(document, edits("""
        [{"path": [{"key": "t"}], "text": {"components": [{"retain": 2}, {"insert": "X"}, {"delete": 1}]}}]"""));
    assertThat(edited).isEqualTo(struct("{\"t\": \"a😀X\"}"));

    Struct deleted = OperationalTransform.apply(document, edits("""
        [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"delete": 1}]}}]"""));
    assertThat(deleted).isEqualTo(struct("{\"t\": \"ab\"}"));
  }

  @Test
  void everyKindOfEdit() throws Exception {
    Struct document = struct("""
        {"list": [1, 2, 3, 4], "obj": {"k": "v"}, "s": "hello"}""");
    Struct edited = OperationalTransform.apply(document, edits("""
        [
          {"path": [{"key": "list"}], "arrayInsert": {"index": 1, "values": ["x", "y"]}},
          {"path": [{"key": "list"}], "arrayRemove": {"index": 3, "count": 2}},
          {"path": [{"key": "list"}], "arrayMove": {"fromIndex": 0, "toIndex": 3}},
          {"path": [{"key": "list"}], "arrayReplace": {"index": 0, "value": {"n": true}}},
          {"path": [{"key": "obj"}], "objectSet": {"key": "k2", "value": [null]}},
          {"path": [{"key": "obj"}], "objectUnset": {"key": "k"}},
          {"objectMerge": {"fields": {"s": "bye", "new": 1}}}
        ]"""));
    // [1,2,3,4] -> insert [1,x,y,2,3,4] -> remove [1,x,y,4] -> move [x,y,4,1] -> replace [{n},y,4,1]
    assertThat(edited).isEqualTo(struct("""
        {"list": [{"n": true}, "y", 4, 1], "obj": {"k2": [null]}, "s": "bye", "new": 1}"""));
  }

  @Test
  void moveEndsAtTheTargetIndex() throws Exception {
    Struct document = struct("{\"l\": [\"a\", \"b\", \"c\", \"d\"]}");
    assertThat(OperationalTransform.apply(document, edits("""
        [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 2}}]""")))
        .isEqualTo(struct("{\"l\": [\"b\", \"c\", \"a\", \"d\"]}"));
    assertThat(OperationalTransform.apply(document, edits("""
        [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 3, "toIndex": 1}}]""")))
        .isEqualTo(struct("{\"l\": [\"a\", \"d\", \"b\", \"c\"]}"));
  }

  @Test
  void theInputDocumentIsNotChanged() throws Exception {
    Struct document = struct("{\"l\": [{\"t\": \"x\"}]}");
    Struct copy = document.toBuilder().build();
    OperationalTransform.apply(document, edits("""
        [{"path": [{"key": "l"}, {"index": 0}, {"key": "t"}], "text": {"components": [{"insert": "y"}]}}]"""));
    assertThat(document).isEqualTo(copy);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      index past the array          | [{"path": [{"key": "l"}, {"index": 7}, {"key": "t"}], "text": {}}] | edits[2].path[1] | index 7 out of range (array length 3)
      missing key                   | [{"path": [{"key": "nope"}], "objectUnset": {"key": "a"}}]         | edits[2].path[0] | key 'nope' not found in the object at the document root
      key into an array             | [{"path": [{"key": "l"}, {"key": "x"}], "objectUnset": {"key": "a"}}] | edits[2].path[1] | key 'x' cannot address the array at '/l' (expected: an index)
      index into an object          | [{"path": [{"index": 0}], "objectUnset": {"key": "a"}}]            | edits[2].path[0] | index 0 cannot address the object at the document root (expected: a key)
      step into a string            | [{"path": [{"key": "s"}, {"index": 0}], "objectUnset": {"key": "a"}}] | edits[2].path[1] | cannot step into a string at '/s'
      text on an array              | [{"path": [{"key": "l"}], "text": {}}]                             | edits[2].path | text needs a string at '/l', found an array
      array edit on an object       | [{"arrayInsert": {"index": 0, "values": [1]}}]                     | edits[2].path | array_insert needs an array at the document root, found an object
      object edit on a string       | [{"path": [{"key": "s"}], "objectSet": {"key": "a", "value": 1}}]  | edits[2].path | object_set needs an object at '/s', found a string
      retain past the end           | [{"path": [{"key": "s"}], "text": {"components": [{"retain": 2}, {"retain": 4}]}}] | edits[2].text.components[1].retain | 4 runs past the end of the text (at code point 2 of 5)
      delete past the end           | [{"path": [{"key": "s"}], "text": {"components": [{"delete": 6}]}}] | edits[2].text.components[0].delete | 6 runs past the end of the text (at code point 0 of 5)
      insert past the end           | [{"path": [{"key": "l"}], "arrayInsert": {"index": 4, "values": [1]}}] | edits[2].array_insert.index | 4 out of range (expected: 0 to 3, the array's length)
      remove past the end           | [{"path": [{"key": "l"}], "arrayRemove": {"index": 1, "count": 3}}] | edits[2].array_remove.count | 3 from index 1 runs past the end (array length 3)
      remove from past the end      | [{"path": [{"key": "l"}], "arrayRemove": {"index": 3, "count": 1}}] | edits[2].array_remove.index | 3 out of range (array length 3)
      move from past the end        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 3, "toIndex": 0}}] | edits[2].array_move.from_index | 3 out of range (array length 3)
      move to past the end          | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 3}}] | edits[2].array_move.to_index | 3 out of range (array length 3)
      replace past the end          | [{"path": [{"key": "l"}], "arrayReplace": {"index": 5, "value": 1}}] | edits[2].array_replace.index | 5 out of range (array length 3)
      unset a missing key           | [{"objectUnset": {"key": "zz"}}]                                   | edits[2].object_unset.key | key 'zz' not found in the object at the document root
      """)
  void aMisfitNamesTheField(String name, String badEdit, String field, String description) throws Exception {
    Struct document = struct("{\"l\": [{\"t\": \"a\"}, 2, 3], \"s\": \"h😀llo\"}");
    // Two valid edits first, so the field name must count to the third.
    List<Edit> edits = new ArrayList<>(edits("""
        [{"objectSet": {"key": "n", "value": 1}}, {"path": [{"key": "l"}, {"index": 0}], "objectSet": {"key": "u", "value": 2}}]"""));
    edits.addAll(edits(badEdit));
    InvalidOperationException thrown = catchThrowableOfType(InvalidOperationException.class,
        () -> OperationalTransform.apply(document, edits));
    assertThat(thrown).as(name).isNotNull();
    assertThat(thrown.violations()).as(name).containsExactly(new EditViolation(field, description));
  }

  @Test
  void aStringAtTheRootOfAValueCanBeEditedWhenComposing() throws Exception {
    // Compose folds an edit into a value that was just written, which may itself be a string.
    Value edited = DocumentEditor.applyToValue(Value.newBuilder().setStringValue("ab").build(),
        new Edit.Text(EditPath.root(), List.of(TextComponent.retain(1), TextComponent.insert("😀"))));
    assertThat(edited.getStringValue()).isEqualTo("a😀b");
  }
}

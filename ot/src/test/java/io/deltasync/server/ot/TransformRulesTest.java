package io.deltasync.server.ot;

import static io.deltasync.server.ot.Fixtures.edits;
import static io.deltasync.server.ot.Fixtures.struct;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The transform rules of the tricky pairs, one case each, as the table in {@code docs/operational-transform.md}
 * states them. Convergence alone cannot pin these down (swapping a tie-break on both sides still converges); these
 * cases do. In every case edit list {@code a} is on {@link Side#LEFT}.
 */
class TransformRulesTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      inserts at one index: left first | {"l": [1, 2]} \
        | [{"path": [{"key": "l"}], "arrayInsert": {"index": 1, "values": ["a"]}}] \
        | [{"path": [{"key": "l"}], "arrayInsert": {"index": 1, "values": ["b"]}}] \
        | {"l": [1, "a", "b", 2]}
      text inserts at one position: left first | {"t": "ab"} \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"insert": "L"}]}}] \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"insert": "R"}]}}] \
        | {"t": "aLRb"}
      overlapping text deletes: both deleted once | {"t": "abcdef"} \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"delete": 3}]}}] \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 2}, {"delete": 3}]}}] \
        | {"t": "af"}
      text typed inside a concurrently deleted range is kept | {"t": "abcdef"} \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 3}, {"insert": "X"}]}}] \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"delete": 4}]}}] \
        | {"t": "aXf"}
      text inserted after a deleted range stays after what the right side types there | {"t": "ab"} \
        | [{"path": [{"key": "t"}], "text": {"components": [{"delete": 1}, {"retain": 1}, {"insert": "P"}]}}] \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"delete": 1}]}}, \
           {"path": [{"key": "t"}], "text": {"components": [{"insert": "U"}]}}] \
        | {"t": "UP"}
      a delete then insert keeps its order: the insert is after the deleted text | {"t": "xy"} \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"delete": 1}, {"insert": "L"}]}}] \
        | [{"path": [{"key": "t"}], "text": {"components": [{"retain": 1}, {"insert": "R"}]}}] \
        | {"t": "xRL"}
      set of one key: left wins | {"k": 0} \
        | [{"objectSet": {"key": "k", "value": "left"}}] \
        | [{"objectSet": {"key": "k", "value": "right"}}] \
        | {"k": "left"}
      set of one key: left wins from either side | {"k": 0} \
        | [{"objectSet": {"key": "k", "value": "left"}}] \
        | [{"objectMerge": {"fields": {"k": "right", "j": 1}}}] \
        | {"k": "left", "j": 1}
      set beats unset of the same key, whatever the side | {"k": 0} \
        | [{"objectUnset": {"key": "k"}}] \
        | [{"objectSet": {"key": "k", "value": "kept"}}] \
        | {"k": "kept"}
      set under a key the other side unset: the set disappears | {"p": {"x": 1}, "q": 2} \
        | [{"objectUnset": {"key": "p"}}] \
        | [{"path": [{"key": "p"}], "objectSet": {"key": "y", "value": 2}}] \
        | {"q": 2}
      edit under a key the other side overwrote: the edit disappears | {"p": {"t": "abc"}} \
        | [{"path": [{"key": "p"}, {"key": "t"}], "text": {"components": [{"insert": "X"}]}}] \
        | [{"objectSet": {"key": "p", "value": {"t": "new"}}}] \
        | {"p": {"t": "new"}}
      overlapping removes: each element removed once | {"l": [0, 1, 2, 3, 4, 5]} \
        | [{"path": [{"key": "l"}], "arrayRemove": {"index": 1, "count": 3}}] \
        | [{"path": [{"key": "l"}], "arrayRemove": {"index": 2, "count": 3}}] \
        | {"l": [0, 5]}
      insert inside a removed range is kept where the range was | {"l": [0, 1, 2, 3]} \
        | [{"path": [{"key": "l"}], "arrayInsert": {"index": 2, "values": ["new"]}}] \
        | [{"path": [{"key": "l"}], "arrayRemove": {"index": 1, "count": 2}}] \
        | {"l": [0, "new", 3]}
      replace beats remove of the same element | {"l": [0, 1, 2]} \
        | [{"path": [{"key": "l"}], "arrayRemove": {"index": 0, "count": 2}}] \
        | [{"path": [{"key": "l"}], "arrayReplace": {"index": 1, "value": "new"}}] \
        | {"l": ["new", 2]}
      replace of one element: left wins | {"l": [0, 1]} \
        | [{"path": [{"key": "l"}], "arrayReplace": {"index": 1, "value": "left"}}] \
        | [{"path": [{"key": "l"}], "arrayReplace": {"index": 1, "value": "right"}}] \
        | {"l": [0, "left"]}
      replace beats an edit inside the old element | {"l": [{"t": "a"}]} \
        | [{"path": [{"key": "l"}, {"index": 0}, {"key": "t"}], "text": {"components": [{"insert": "X"}]}}] \
        | [{"path": [{"key": "l"}], "arrayReplace": {"index": 0, "value": {"t": "new"}}}] \
        | {"l": [{"t": "new"}]}
      move of one element: left wins | {"l": ["a", "b", "c", "d"]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 3}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 1}}] \
        | {"l": ["b", "c", "d", "a"]}
      moves of two elements to one place: left first | {"l": ["a", "b", "c", "d"]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 1}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 3, "toIndex": 2}}] \
        | {"l": ["b", "a", "d", "c"]}
      moves of two elements to the front: left first | {"l": ["a", "b", "c"]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 2, "toIndex": 0}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 1, "toIndex": 0}}] \
        | {"l": ["c", "b", "a"]}
      the same swap made from both ends stays made | {"l": [0, 1]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 1, "toIndex": 0}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 1}}] \
        | {"l": [1, 0]}
      the same swap made from both ends stays made, other side | {"l": [0, 1]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 0, "toIndex": 1}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 1, "toIndex": 0}}] \
        | {"l": [1, 0]}
      the same swap inside a longer array | {"l": ["a", "b", "c", "d"]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 2, "toIndex": 1}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 1, "toIndex": 2}}] \
        | {"l": ["a", "c", "b", "d"]}
      move of a removed element: the remove wins | {"l": ["a", "b", "c"]} \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 1, "toIndex": 0}}] \
        | [{"path": [{"key": "l"}], "arrayRemove": {"index": 1, "count": 1}}] \
        | {"l": ["a", "c"]}
      element moved into a removed range survives | {"l": ["a", "b", "c", "d"]} \
        | [{"path": [{"key": "l"}], "arrayRemove": {"index": 0, "count": 2}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 3, "toIndex": 1}}] \
        | {"l": ["d", "c"]}
      insert next to a moved element: left first | {"l": ["a", "b", "c"]} \
        | [{"path": [{"key": "l"}], "arrayInsert": {"index": 0, "values": ["new"]}}] \
        | [{"path": [{"key": "l"}], "arrayMove": {"fromIndex": 2, "toIndex": 0}}] \
        | {"l": ["new", "c", "a", "b"]}
      """)
  void rule(String rule, String document, String a, String b, String merged) throws Exception {
    Struct start = struct(document);
    List<Edit> left = edits(a);
    List<Edit> right = edits(b);
    Transformed transformed = OperationalTransform.transformBoth(left, right, Side.LEFT);
    Struct viaRight = OperationalTransform.apply(OperationalTransform.apply(start, right), transformed.ops());
    Struct viaLeft = OperationalTransform.apply(OperationalTransform.apply(start, left), transformed.against());
    // Struct equality ignores key order, as JSON does; the description shows what came out.
    assertThat(viaRight).as("%s: got %s", rule, Fixtures.json(viaRight)).isEqualTo(struct(merged));
    assertThat(viaLeft).as("%s: got %s", rule, Fixtures.json(viaLeft)).isEqualTo(struct(merged));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      text and array edits at one path | [{"path": [{"key": "x"}], "text": {"components": [{"insert": "a"}]}}] \
        | [{"path": [{"key": "x"}], "arrayInsert": {"index": 0, "values": [1]}}]
      an edit inside a string | [{"path": [{"key": "x"}, {"index": 0}], "objectSet": {"key": "k", "value": 1}}] \
        | [{"path": [{"key": "x"}], "text": {"components": [{"insert": "a"}]}}]
      a key into an array | [{"path": [{"key": "x"}, {"key": "y"}], "objectSet": {"key": "k", "value": 1}}] \
        | [{"path": [{"key": "x"}], "arrayRemove": {"index": 0, "count": 1}}]
      """)
  void editsThatCannotShareADocumentAreUntransformable(String name, String a, String b) throws Exception {
    List<Edit> left = edits(a);
    List<Edit> right = edits(b);
    assertThatThrownBy(() -> OperationalTransform.transform(left, right, Side.LEFT)).as(name)
        .isInstanceOf(UntransformableException.class)
        .hasMessageContaining("were not made on the same document");
  }
}

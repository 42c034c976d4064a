package io.deltasync.server.ot;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;

/**
 * Seeded generator of small JSON documents and of edits that are valid on them. Documents are small on purpose (few
 * keys from a tiny alphabet, short arrays and strings) so that concurrent edits often meet at one path, the cases
 * where transform rules matter. Strings mix ASCII, a BMP accent and non-BMP code points (emoji, a musical symbol), so
 * any UTF-16 arithmetic in the code under test splits a surrogate pair and fails.
 */
final class RandomEdits {
  static final String[] KEYS = {"a", "b", "c", "d"};
  private static final String[] CHARACTERS = {"a", "b", "c", "x", "é", "中", "😀", "𝄞", "👍"};

  /** Every kind of edit, named as in the proto. */
  enum Kind {
    TEXT, ARRAY_INSERT, ARRAY_REMOVE, ARRAY_MOVE, ARRAY_REPLACE, OBJECT_SET, OBJECT_UNSET, OBJECT_MERGE;

    static Kind of(Edit edit) {
      return switch (edit) {
        case Edit.Text ignored -> TEXT;
        case Edit.ArrayInsert ignored -> ARRAY_INSERT;
        case Edit.ArrayRemove ignored -> ARRAY_REMOVE;
        case Edit.ArrayMove ignored -> ARRAY_MOVE;
        case Edit.ArrayReplace ignored -> ARRAY_REPLACE;
        case Edit.ObjectSet ignored -> OBJECT_SET;
        case Edit.ObjectUnset ignored -> OBJECT_UNSET;
        case Edit.ObjectMerge ignored -> OBJECT_MERGE;
      };
    }

    boolean isText() {
      return this == TEXT;
    }

    boolean isArray() {
      return name().startsWith("ARRAY");
    }

    boolean isObject() {
      return name().startsWith("OBJECT");
    }
  }

  /** Where a second edit's path lies relative to the first's. */
  enum Relation {
    /** The same path. */
    SAME,
    /** A strict ancestor: the second edit changes a container above the first. */
    ANCESTOR,
    /** A strict descendant: the second edit is below the first's container, preferably under what it touches. */
    DESCENDANT,
    /** Anywhere. */
    ANY
  }

  private final Random random;

  RandomEdits(Random random) {
    this.random = random;
  }

  // ---- documents ------------------------------------------------------------------------------------------------

  Struct document() {
    return struct(3);
  }

  private Struct struct(int depth) {
    Struct.Builder struct = Struct.newBuilder();
    int size = 1 + random.nextInt(KEYS.length);
    for (int i = 0; i < size; i++) {
      struct.putFields(KEYS[random.nextInt(KEYS.length)], value(depth - 1));
    }
    return struct.build();
  }

  Value value(int depth) {
    int pick = random.nextInt(depth > 0 ? 10 : 6);
    return switch (pick) {
      case 0 -> Value.newBuilder().setNumberValue(random.nextInt(100)).build();
      case 1 -> Value.newBuilder().setBoolValue(random.nextBoolean()).build();
      case 2 -> Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
      case 3, 4, 5 -> string(random.nextInt(6));
      case 6, 7 -> Value.newBuilder().setStructValue(struct(depth - 1)).build();
      default -> {
        ListValue.Builder list = ListValue.newBuilder();
        int size = random.nextInt(5);
        for (int i = 0; i < size; i++) {
          list.addValues(value(depth - 1));
        }
        yield Value.newBuilder().setListValue(list).build();
      }
    };
  }

  private Value string(int codePoints) {
    return Value.newBuilder().setStringValue(text(codePoints)).build();
  }

  String text(int codePoints) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < codePoints; i++) {
      out.append(CHARACTERS[random.nextInt(CHARACTERS.length)]);
    }
    return out.toString();
  }

  // ---- edits ----------------------------------------------------------------------------------------------------

  /** {@code count} edits, each valid on the document the ones before it produce. */
  List<Edit> edits(Struct document, int count) throws InvalidOperationException {
    List<Edit> edits = new ArrayList<>(count);
    Struct current = document;
    for (int i = 0; i < count; i++) {
      Edit edit = edit(current);
      edits.add(edit);
      current = OperationalTransform.apply(current, List.of(edit));
    }
    return edits;
  }

  /**
   * {@code count} edits like {@link #edits}, but most of them near the one before (same path, an ancestor, or inside
   * what it touched), as a user's consecutive edits usually are; these are the sequences compose can shorten.
   */
  List<Edit> focusedEdits(Struct document, int count) throws InvalidOperationException {
    List<Edit> edits = new ArrayList<>(count);
    Struct current = document;
    Edit previous = null;
    for (int i = 0; i < count; i++) {
      Edit edit = null;
      if (previous != null && random.nextInt(5) > 0) {
        Kind kind = Kind.values()[random.nextInt(Kind.values().length)];
        Relation relation = Relation.values()[random.nextInt(3)];
        edit = edit(current, kind, previous.path(), relation, previous);
      }
      if (edit == null) {
        edit = edit(current);
      }
      edits.add(edit);
      current = OperationalTransform.apply(current, List.of(edit));
      previous = edit;
    }
    return edits;
  }

  /** A random edit of a random kind at a random place; there is always one (the root object takes a set). */
  Edit edit(Struct document) {
    while (true) {
      Kind kind = Kind.values()[random.nextInt(Kind.values().length)];
      Edit edit = edit(document, kind, EditPath.root(), Relation.ANY, null);
      if (edit != null) {
        return edit;
      }
    }
  }

  /**
   * An edit of {@code kind} whose path has {@code relation} to {@code near}, or null when the document has no place
   * for one. With {@link Relation#DESCENDANT}, {@code nearEdit} (the edit at {@code near}) steers half of the picks
   * under the child it touches.
   */
  Edit edit(Struct document, Kind kind, EditPath near, Relation relation, Edit nearEdit) {
    List<Node> nodes = new ArrayList<>();
    collect(Value.newBuilder().setStructValue(document).build(), EditPath.root(), nodes);
    Predicate<Node> fits = switch (kind) {
      case TEXT -> node -> node.value.hasStringValue() && node.path.size() > 0;
      case ARRAY_INSERT -> node -> node.value.hasListValue();
      case ARRAY_REMOVE, ARRAY_MOVE, ARRAY_REPLACE ->
          node -> node.value.hasListValue() && node.value.getListValue().getValuesCount() > 0;
      case OBJECT_SET, OBJECT_MERGE -> node -> node.value.hasStructValue();
      case OBJECT_UNSET -> node -> node.value.hasStructValue() && node.value.getStructValue().getFieldsCount() > 0;
    };
    Predicate<Node> related = switch (relation) {
      case SAME -> node -> node.path.equals(near);
      case ANCESTOR -> node -> node.path.size() < near.size() && node.path.isPrefixOf(near);
      case DESCENDANT -> node -> node.path.size() > near.size() && near.isPrefixOf(node.path);
      case ANY -> node -> true;
    };
    List<Node> candidates = nodes.stream().filter(fits.and(related)).toList();
    if (candidates.isEmpty()) {
      return null;
    }
    if (relation == Relation.DESCENDANT && nearEdit != null && random.nextBoolean()) {
      PathStep touched = touchedChild(nearEdit);
      if (touched != null) {
        List<Node> under = candidates.stream().filter(node -> node.path.get(near.size()).equals(touched)).toList();
        if (!under.isEmpty()) {
          candidates = under;
        }
      }
    }
    Node target = candidates.get(random.nextInt(candidates.size()));
    return edit(kind, target);
  }

  /** The child of its container that an edit writes, removes or moves; null for text and inserts. */
  private PathStep touchedChild(Edit edit) {
    return switch (edit) {
      case Edit.ArrayRemove remove -> PathStep.index(remove.index() + random.nextInt(remove.count()));
      case Edit.ArrayMove move -> PathStep.index(move.fromIndex());
      case Edit.ArrayReplace replace -> PathStep.index(replace.index());
      case Edit.ObjectSet set -> PathStep.key(set.key());
      case Edit.ObjectUnset unset -> PathStep.key(unset.key());
      case Edit.ObjectMerge merge -> merge.fields().isEmpty() ? null
          : PathStep.key(merge.fields().keySet().iterator().next());
      default -> null;
    };
  }

  private Edit edit(Kind kind, Node target) {
    EditPath path = target.path;
    return switch (kind) {
      case TEXT -> new Edit.Text(path, textComponents(target.value.getStringValue()));
      case ARRAY_INSERT -> {
        int length = target.value.getListValue().getValuesCount();
        List<Value> values = new ArrayList<>();
        int count = 1 + random.nextInt(3);
        for (int i = 0; i < count; i++) {
          values.add(value(2));
        }
        yield new Edit.ArrayInsert(path, random.nextInt(length + 1), values);
      }
      case ARRAY_REMOVE -> {
        int length = target.value.getListValue().getValuesCount();
        int index = random.nextInt(length);
        yield new Edit.ArrayRemove(path, index, 1 + random.nextInt(length - index));
      }
      case ARRAY_MOVE -> {
        int length = target.value.getListValue().getValuesCount();
        yield new Edit.ArrayMove(path, random.nextInt(length), random.nextInt(length));
      }
      case ARRAY_REPLACE -> {
        int length = target.value.getListValue().getValuesCount();
        yield new Edit.ArrayReplace(path, random.nextInt(length), value(2));
      }
      case OBJECT_SET -> new Edit.ObjectSet(path, KEYS[random.nextInt(KEYS.length)], value(2));
      case OBJECT_UNSET -> {
        List<String> keys = new ArrayList<>(target.value.getStructValue().getFieldsMap().keySet());
        yield new Edit.ObjectUnset(path, keys.get(random.nextInt(keys.size())));
      }
      case OBJECT_MERGE -> {
        Map<String, Value> fields = new LinkedHashMap<>();
        int count = random.nextInt(4); // sometimes empty: a no-op merge must transform and compose too
        for (int i = 0; i < count; i++) {
          fields.put(KEYS[random.nextInt(KEYS.length)], value(2));
        }
        yield new Edit.ObjectMerge(path, fields);
      }
    };
  }

  private List<TextComponent> textComponents(String text) {
    int length = text.codePointCount(0, text.length());
    List<TextComponent> components = new ArrayList<>();
    int position = 0;
    int parts = 1 + random.nextInt(4);
    for (int i = 0; i < parts; i++) {
      int remaining = length - position;
      int pick = random.nextInt(3);
      if (pick == 0 && remaining > 0) {
        int count = 1 + random.nextInt(remaining);
        components.add(TextComponent.retain(count));
        position += count;
      } else if (pick == 1 && remaining > 0) {
        int count = 1 + random.nextInt(remaining);
        components.add(TextComponent.delete(count));
        position += count;
      } else {
        components.add(TextComponent.insert(text(1 + random.nextInt(3))));
      }
    }
    if (position < length && random.nextInt(4) == 0) {
      components.add(TextComponent.retain(length - position)); // an explicit tail retain is valid too
    }
    return components;
  }

  private static void collect(Value value, EditPath path, List<Node> out) {
    out.add(new Node(path, value));
    switch (value.getKindCase()) {
      case STRUCT_VALUE -> value.getStructValue().getFieldsMap().forEach((key, child) ->
          collect(child, path.child(PathStep.key(key)), out));
      case LIST_VALUE -> {
        List<Value> children = value.getListValue().getValuesList();
        for (int i = 0; i < children.size(); i++) {
          collect(children.get(i), path.child(PathStep.index(i)), out);
        }
      }
      default -> { }
    }
  }

  private record Node(EditPath path, Value value) {}
}

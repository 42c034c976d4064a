package io.deltasync.server.ot;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies edits to a document. The protobuf tree is immutable, so each container an edit touches is copied once into
 * a mutable {@link LinkedHashMap} or {@link ArrayList} (children stay protobuf values until they are touched in turn)
 * and the result is rebuilt at the end: a batch of edits costs the size of what it touches, not a copy of the whole
 * document per edit.
 */
final class DocumentEditor {
  // The root lives in a one-element list so that every edit has a parent to write its result into, including a text
  // edit of a root string (which happens when compose folds an edit into a value that is itself a string).
  private final List<Object> holder = new ArrayList<>(1);

  private DocumentEditor(Value root) {
    holder.add(root);
  }

  static Struct apply(Struct document, List<Edit> edits) throws InvalidOperationException {
    DocumentEditor editor = new DocumentEditor(Value.newBuilder().setStructValue(document).build());
    for (int i = 0; i < edits.size(); i++) {
      editor.apply(edits.get(i), "edits[" + i + "]");
    }
    return freeze(editor.holder.get(0)).getStructValue();
  }

  /** Applies one edit whose path starts at {@code root}, which may be any JSON value. */
  static Value applyToValue(Value root, Edit edit) throws InvalidOperationException {
    DocumentEditor editor = new DocumentEditor(root);
    editor.apply(edit, "edit");
    return freeze(editor.holder.get(0));
  }

  private void apply(Edit edit, String field) throws InvalidOperationException {
    EditPath path = edit.path();
    if (edit instanceof Edit.Text text) {
      editText(text, field);
    } else if (edit instanceof Edit.ArrayInsert insert) {
      List<Object> array = array(path, field, insert.kind());
      if (insert.index() > array.size()) {
        throw new InvalidOperationException(field + ".array_insert.index",
            insert.index() + " out of range (expected: 0 to " + array.size() + ", the array's length)");
      }
      array.addAll(insert.index(), insert.values());
    } else if (edit instanceof Edit.ArrayRemove remove) {
      List<Object> array = array(path, field, remove.kind());
      checkElement(array, remove.index(), field + ".array_remove.index");
      if ((long) remove.index() + remove.count() > array.size()) {
        throw new InvalidOperationException(field + ".array_remove.count", remove.count() + " from index "
            + remove.index() + " runs past the end (array length " + array.size() + ")");
      }
      array.subList(remove.index(), remove.end()).clear();
    } else if (edit instanceof Edit.ArrayMove move) {
      List<Object> array = array(path, field, move.kind());
      checkElement(array, move.fromIndex(), field + ".array_move.from_index");
      checkElement(array, move.toIndex(), field + ".array_move.to_index");
      array.add(move.toIndex(), array.remove(move.fromIndex()));
    } else if (edit instanceof Edit.ArrayReplace replace) {
      List<Object> array = array(path, field, replace.kind());
      checkElement(array, replace.index(), field + ".array_replace.index");
      array.set(replace.index(), replace.value());
    } else if (edit instanceof Edit.ObjectSet set) {
      object(path, field, set.kind()).put(set.key(), set.value());
    } else if (edit instanceof Edit.ObjectUnset unset) {
      Map<String, Object> object = object(path, field, unset.kind());
      if (!object.containsKey(unset.key())) {
        throw new InvalidOperationException(field + ".object_unset.key",
            "key '" + unset.key() + "' not found in the object at " + where(path, path.size()));
      }
      object.remove(unset.key());
    } else if (edit instanceof Edit.ObjectMerge merge) {
      object(path, field, merge.kind()).putAll(merge.fields());
    } else {
      throw new IllegalStateException("unknown edit: " + edit); // Edit is sealed: unreachable
    }
  }

  private void editText(Edit.Text text, String field) throws InvalidOperationException {
    EditPath path = text.path();
    Object parent;
    Object value;
    if (path.size() == 0) {
      parent = holder;
      value = holder.get(0);
    } else {
      parent = walk(path, path.size() - 1, field);
      value = child(parent, path, path.size() - 1, field);
    }
    if (!(value instanceof Value string && string.getKindCase() == Value.KindCase.STRING_VALUE)) {
      throw new InvalidOperationException(field + ".path",
          "text needs a string at " + where(path, path.size()) + ", found " + describe(value));
    }
    Value edited = Value.newBuilder()
        .setStringValue(TextOps.apply(string.getStringValue(), text.components(), field + ".text"))
        .build();
    if (parent instanceof Map<?, ?>) {
      asObject(parent).put(((PathStep.Key) path.get(path.size() - 1)).name(), edited);
    } else {
      int index = path.size() == 0 ? 0 : ((PathStep.Index) path.get(path.size() - 1)).position();
      asArray(parent).set(index, edited);
    }
  }

  private List<Object> array(EditPath path, String field, String kind) throws InvalidOperationException {
    Object target = walk(path, path.size(), field);
    if (target instanceof List<?>) {
      return asArray(target);
    }
    throw new InvalidOperationException(field + ".path",
        kind + " needs an array at " + where(path, path.size()) + ", found " + describe(target));
  }

  private Map<String, Object> object(EditPath path, String field, String kind) throws InvalidOperationException {
    Object target = walk(path, path.size(), field);
    if (target instanceof Map<?, ?>) {
      return asObject(target);
    }
    throw new InvalidOperationException(field + ".path",
        kind + " needs an object at " + where(path, path.size()) + ", found " + describe(target));
  }

  /** Follows the first {@code depth} steps of {@code path}, making each container on the way mutable. */
  private Object walk(EditPath path, int depth, String field) throws InvalidOperationException {
    Object current = mutableChild(holder, 0);
    for (int i = 0; i < depth; i++) {
      current = child(current, path, i, field);
    }
    return current;
  }

  private static Object child(Object container, EditPath path, int depth, String field)
      throws InvalidOperationException {
    PathStep step = path.get(depth);
    String stepField = field + ".path[" + depth + "]";
    if (container instanceof Map<?, ?> map) {
      if (!(step instanceof PathStep.Key key)) {
        throw new InvalidOperationException(stepField,
            "index " + step + " cannot address the object at " + where(path, depth) + " (expected: a key)");
      }
      if (!map.containsKey(key.name())) {
        throw new InvalidOperationException(stepField,
            "key '" + key.name() + "' not found in the object at " + where(path, depth));
      }
      return mutableChild(asObject(container), key.name());
    }
    if (container instanceof List<?> list) {
      if (!(step instanceof PathStep.Index index)) {
        throw new InvalidOperationException(stepField, "key '" + ((PathStep.Key) step).name()
            + "' cannot address the array at " + where(path, depth) + " (expected: an index)");
      }
      if (index.position() >= list.size()) {
        throw new InvalidOperationException(stepField,
            "index " + index.position() + " out of range (array length " + list.size() + ")");
      }
      return mutableChild(asArray(container), index.position());
    }
    throw new InvalidOperationException(stepField,
        "cannot step into " + describe(container) + " at " + where(path, depth));
  }

  private static Object mutableChild(Map<String, Object> object, String key) {
    Object child = object.get(key);
    Object mutable = thaw(child);
    if (mutable != child) {
      object.put(key, mutable);
    }
    return mutable;
  }

  private static Object mutableChild(List<Object> array, int index) {
    Object child = array.get(index);
    Object mutable = thaw(child);
    if (mutable != child) {
      array.set(index, mutable);
    }
    return mutable;
  }

  /** Copies one level of a protobuf container into its mutable form; leaves and mutable nodes come back as they are. */
  private static Object thaw(Object node) {
    if (node instanceof Value value) {
      switch (value.getKindCase()) {
        case STRUCT_VALUE -> {
          return new LinkedHashMap<String, Object>(value.getStructValue().getFieldsMap());
        }
        case LIST_VALUE -> {
          return new ArrayList<Object>(value.getListValue().getValuesList());
        }
        default -> {
          return value;
        }
      }
    }
    return node;
  }

  private static Value freeze(Object node) {
    if (node instanceof Map<?, ?> map) {
      Struct.Builder struct = Struct.newBuilder();
      map.forEach((key, child) -> struct.putFields((String) key, freeze(child)));
      return Value.newBuilder().setStructValue(struct).build();
    }
    if (node instanceof List<?> list) {
      ListValue.Builder array = ListValue.newBuilder();
      for (Object child : list) {
        array.addValues(freeze(child));
      }
      return Value.newBuilder().setListValue(array).build();
    }
    return (Value) node;
  }

  private static void checkElement(List<Object> array, int index, String field) throws InvalidOperationException {
    if (index >= array.size()) {
      throw new InvalidOperationException(field, index + " out of range (array length " + array.size() + ")");
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> asObject(Object node) {
    return (Map<String, Object>) node;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> asArray(Object node) {
    return (List<Object>) node;
  }

  private static String where(EditPath path, int depth) {
    return depth == 0 ? "the document root" : "'" + new EditPath(path.steps().subList(0, depth)) + "'";
  }

  private static String describe(Object node) {
    if (node instanceof Map<?, ?>) {
      return "an object";
    }
    if (node instanceof List<?>) {
      return "an array";
    }
    return switch (((Value) node).getKindCase()) {
      case STRING_VALUE -> "a string";
      case NUMBER_VALUE -> "a number";
      case BOOL_VALUE -> "a boolean";
      case NULL_VALUE -> "null";
      case STRUCT_VALUE -> "an object";
      case LIST_VALUE -> "an array";
      case KIND_NOT_SET -> "a value with no kind";
    };
  }
}

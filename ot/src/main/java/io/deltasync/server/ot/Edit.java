package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Value;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One edit of a JSON document at a path; the immutable model of {@code deltasync.v1.EditOperation} (convert with
 * {@link OperationCodec}).
 *
 * <p>Constructors check only what holds for every document (non-negative indexes, non-empty inserts); whether an edit
 * fits a particular document is checked when it is applied.
 */
public sealed interface Edit
    permits Edit.Text, Edit.ArrayInsert, Edit.ArrayRemove, Edit.ArrayMove, Edit.ArrayReplace, Edit.ObjectSet,
        Edit.ObjectUnset, Edit.ObjectMerge {

  /** The path of the value edited: the string for a text edit, the array or object for the others. */
  EditPath path();

  /** The same edit at another path. */
  Edit withPath(EditPath path);

  /** The name of this kind of edit, as in the proto's {@code kind} oneof (for example {@code array_insert}). */
  String kind();

  /** Edits the string at {@link #path()}: components apply left to right; the text after the last is kept. */
  record Text(EditPath path, List<TextComponent> components) implements Edit {
    public Text {
      requireNonNull(path, "path");
      components = List.copyOf(requireNonNull(components, "components"));
    }

    @Override
    public Text withPath(EditPath newPath) {
      return new Text(newPath, components);
    }

    @Override
    public String kind() {
      return "text";
    }
  }

  /** Inserts {@code values} into the array at {@link #path()} so that the first lands at {@code index}. */
  record ArrayInsert(EditPath path, int index, List<Value> values) implements Edit {
    public ArrayInsert {
      requireNonNull(path, "path");
      requireNonNegative(index, "index");
      values = List.copyOf(requireNonNull(values, "values"));
      if (values.isEmpty()) {
        throw new IllegalArgumentException("values: empty (expected: at least 1)");
      }
    }

    @Override
    public ArrayInsert withPath(EditPath newPath) {
      return new ArrayInsert(newPath, index, values);
    }

    @Override
    public String kind() {
      return "array_insert";
    }
  }

  /** Removes {@code count} elements from {@code index} on of the array at {@link #path()}. */
  record ArrayRemove(EditPath path, int index, int count) implements Edit {
    public ArrayRemove {
      requireNonNull(path, "path");
      requireNonNegative(index, "index");
      if (count < 1) {
        throw new IllegalArgumentException("count: " + count + " (expected: >= 1)");
      }
    }

    @Override
    public ArrayRemove withPath(EditPath newPath) {
      return new ArrayRemove(newPath, index, count);
    }

    @Override
    public String kind() {
      return "array_remove";
    }

    /** One past the last index removed. */
    public int end() {
      return index + count;
    }
  }

  /**
   * Moves one element of the array at {@link #path()} so that it ends up at {@code toIndex}: it is taken out at
   * {@code fromIndex}, then put back at {@code toIndex} of the shorter array.
   */
  record ArrayMove(EditPath path, int fromIndex, int toIndex) implements Edit {
    public ArrayMove {
      requireNonNull(path, "path");
      requireNonNegative(fromIndex, "fromIndex");
      requireNonNegative(toIndex, "toIndex");
    }

    @Override
    public ArrayMove withPath(EditPath newPath) {
      return new ArrayMove(newPath, fromIndex, toIndex);
    }

    @Override
    public String kind() {
      return "array_move";
    }

    /** Whether the move leaves the array as it is. */
    public boolean isNoOp() {
      return fromIndex == toIndex;
    }
  }

  /** Replaces the element at {@code index} of the array at {@link #path()} with {@code value}. */
  record ArrayReplace(EditPath path, int index, Value value) implements Edit {
    public ArrayReplace {
      requireNonNull(path, "path");
      requireNonNegative(index, "index");
      requireNonNull(value, "value");
    }

    @Override
    public ArrayReplace withPath(EditPath newPath) {
      return new ArrayReplace(newPath, index, value);
    }

    @Override
    public String kind() {
      return "array_replace";
    }
  }

  /** Sets {@code key} of the object at {@link #path()} to {@code value}, whether or not the key exists. */
  record ObjectSet(EditPath path, String key, Value value) implements Edit {
    public ObjectSet {
      requireNonNull(path, "path");
      requireNonNull(key, "key");
      requireNonNull(value, "value");
    }

    @Override
    public ObjectSet withPath(EditPath newPath) {
      return new ObjectSet(newPath, key, value);
    }

    @Override
    public String kind() {
      return "object_set";
    }
  }

  /** Removes {@code key}, which must exist, from the object at {@link #path()}. */
  record ObjectUnset(EditPath path, String key) implements Edit {
    public ObjectUnset {
      requireNonNull(path, "path");
      requireNonNull(key, "key");
    }

    @Override
    public ObjectUnset withPath(EditPath newPath) {
      return new ObjectUnset(newPath, key);
    }

    @Override
    public String kind() {
      return "object_unset";
    }
  }

  /** Sets every key of {@code fields} in the object at {@link #path()} (a shallow merge); other keys are kept. */
  record ObjectMerge(EditPath path, Map<String, Value> fields) implements Edit {
    public ObjectMerge {
      requireNonNull(path, "path");
      // Keep the caller's key order so that encoding is deterministic; Map.copyOf would not.
      fields = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(fields, "fields")));
    }

    @Override
    public ObjectMerge withPath(EditPath newPath) {
      return new ObjectMerge(newPath, fields);
    }

    @Override
    public String kind() {
      return "object_merge";
    }
  }

  private static void requireNonNegative(int value, String name) {
    if (value < 0) {
      throw new IllegalArgumentException(name + ": " + value + " (expected: >= 0)");
    }
  }
}

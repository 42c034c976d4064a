package io.deltasync.sdk;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ot.Edit;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.TextComponent;
import java.util.List;

/**
 * Builds the edits {@link SyncClient#edit} takes: text, array and object edits, as in docs/operational-transform.md.
 * A path leads from the document root to the value edited (the string, the array or the object): object keys as
 * {@code String}, array indexes as {@code Integer}. Text positions count Unicode code points, not UTF-16 units.
 * Each builder checks what holds for every document (non-negative indexes, a non-empty insert) and throws
 * IllegalArgumentException otherwise; whether an edit fits the document is checked when it is applied.
 */
public final class Edits {
  private Edits() {}

  /** Inserts {@code text} at code point {@code at} of the string at {@code path}. */
  public static EditOperation insertText(List<Object> path, int at, String text) {
    return DocumentEdits.text(path, List.of(retain(at), TextComponent.newBuilder().setInsert(text).build()));
  }

  /** Deletes {@code count} code points from code point {@code at} of the string at {@code path}. */
  public static EditOperation deleteText(List<Object> path, int at, int count) {
    return DocumentEdits.text(path, List.of(retain(at), TextComponent.newBuilder().setDelete(count).build()));
  }

  /** A text edit of retain / insert / delete components (empty ones are dropped). */
  public static EditOperation text(List<Object> path, List<TextComponent> components) {
    return DocumentEdits.text(path, components);
  }

  /** Inserts {@code values} into the array at {@code path} so that the first lands at {@code index}. */
  public static EditOperation arrayInsert(List<Object> path, int index, List<Value> values) {
    return DocumentEdits.encode(new Edit.ArrayInsert(DocumentEdits.path(path), index, values));
  }

  /** Removes {@code count} elements from {@code index} on of the array at {@code path}. */
  public static EditOperation arrayRemove(List<Object> path, int index, int count) {
    return DocumentEdits.encode(new Edit.ArrayRemove(DocumentEdits.path(path), index, count));
  }

  /** Moves the element at {@code from} of the array at {@code path} so that it ends up at index {@code to}. */
  public static EditOperation arrayMove(List<Object> path, int from, int to) {
    return DocumentEdits.encode(new Edit.ArrayMove(DocumentEdits.path(path), from, to));
  }

  /** Replaces the element at {@code index} of the array at {@code path} with {@code value}. */
  public static EditOperation arrayReplace(List<Object> path, int index, Value value) {
    return DocumentEdits.encode(new Edit.ArrayReplace(DocumentEdits.path(path), index, value));
  }

  /** Sets {@code key} of the object at {@code path} to {@code value}, whether or not the key exists. */
  public static EditOperation objectSet(List<Object> path, String key, Value value) {
    return DocumentEdits.encode(new Edit.ObjectSet(DocumentEdits.path(path), key, value));
  }

  /** Removes {@code key}, which must exist, from the object at {@code path}. */
  public static EditOperation objectUnset(List<Object> path, String key) {
    return DocumentEdits.encode(new Edit.ObjectUnset(DocumentEdits.path(path), key));
  }

  /** Sets every key of {@code fields} in the object at {@code path} (a shallow merge); other keys are kept. */
  public static EditOperation objectMerge(List<Object> path, Struct fields) {
    return DocumentEdits.encode(new Edit.ObjectMerge(DocumentEdits.path(path), fields.getFieldsMap()));
  }

  private static TextComponent retain(int count) {
    return TextComponent.newBuilder().setRetain(count).build();
  }
}

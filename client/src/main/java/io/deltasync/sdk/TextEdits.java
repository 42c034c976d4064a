package io.deltasync.sdk;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.PathElement;
import io.deltasync.v1.TextEdit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The SDK's operational transform on documents: it applies and transforms <em>text</em> edits (the kind two people
 * typing into one field make); other kinds of concurrent edit (array and object edits over the path of a text) are
 * reported as not transformable, and the caller falls back to a whole-document update.
 */
final class TextEdits {
  private TextEdits() {}

  /** A text edit of the string at {@code path} (object keys as String, array indexes as Integer). */
  static EditOperation text(List<Object> path, List<io.deltasync.v1.TextComponent> components) {
    EditOperation.Builder edit = EditOperation.newBuilder();
    for (Object step : path) {
      if (step instanceof String key) {
        edit.addPath(PathElement.newBuilder().setKey(key));
      } else if (step instanceof Integer index) {
        edit.addPath(PathElement.newBuilder().setIndex(index));
      } else {
        throw new IllegalArgumentException("path step: " + step + " (expected: String key or Integer index)");
      }
    }
    // Canonical form: the server refuses empty components (a retain of 0, for an insert at the start).
    return edit.setText(TextEdit.newBuilder().addAllComponents(TextAlgebra.normalize(components))).build();
  }

  /** Applies text edits in order; IllegalArgumentException when one does not fit or is not a text edit. */
  static Struct apply(Struct document, List<EditOperation> edits) {
    Value root = Value.newBuilder().setStructValue(document).build();
    for (EditOperation edit : edits) {
      if (!edit.hasText()) {
        throw new IllegalArgumentException("edit " + edit.getKindCase() + ": this SDK applies text edits only");
      }
      List<io.deltasync.v1.TextComponent> components = edit.getText().getComponentsList();
      root = at(root, edit.getPathList(), 0, text -> TextAlgebra.apply(text, components));
    }
    return root.getStructValue();
  }

  private static Value at(Value node, List<PathElement> path, int i, UnaryOperator<String> change) {
    if (i == path.size()) {
      if (!node.hasStringValue()) {
        throw new IllegalArgumentException("text edit: the value at path[" + i + "] is not a string");
      }
      return Value.newBuilder().setStringValue(change.apply(node.getStringValue())).build();
    }
    PathElement step = path.get(i);
    if (step.hasKey()) {
      if (!node.hasStructValue() || !node.getStructValue().containsFields(step.getKey())) {
        throw new IllegalArgumentException("text edit: key '" + step.getKey() + "' not found at path[" + i + "]");
      }
      Struct struct = node.getStructValue();
      Value child = at(struct.getFieldsOrThrow(step.getKey()), path, i + 1, change);
      return Value.newBuilder().setStructValue(struct.toBuilder().putFields(step.getKey(), child)).build();
    }
    if (!node.hasListValue() || step.getIndex() < 0 || step.getIndex() >= node.getListValue().getValuesCount()) {
      throw new IllegalArgumentException("text edit: index " + step.getIndex() + " not found at path[" + i + "]");
    }
    ListValue list = node.getListValue();
    Value child = at(list.getValues(step.getIndex()), path, i + 1, change);
    return Value.newBuilder().setListValue(list.toBuilder().setValues(step.getIndex(), child)).build();
  }

  /** Pending edits transformed past edits applied before them, and those edits transformed past the pending ones. */
  record Transformed(List<EditOperation> pending, List<EditOperation> applied) {}

  /**
   * Transforms {@code pending} (made on document d) to apply after {@code applied} (also made on d), pairwise as in
   * a Jupiter client; empty when an applied edit changes the structure around a pending text edit.
   */
  static Optional<Transformed> transform(List<EditOperation> pending, List<EditOperation> applied) {
    List<EditOperation> others = new ArrayList<>(applied);
    List<EditOperation> out = new ArrayList<>();
    for (EditOperation mine : pending) {
      if (!mine.hasText()) {
        return Optional.empty();
      }
      EditOperation current = mine;
      List<EditOperation> next = new ArrayList<>();
      for (EditOperation other : others) {
        if (other.hasText()) {
          if (other.getPathList().equals(current.getPathList())) {
            List<io.deltasync.v1.TextComponent> a = current.getText().getComponentsList();
            List<io.deltasync.v1.TextComponent> b = other.getText().getComponentsList();
            current = withComponents(current, TextAlgebra.transform(a, b, true));
            other = withComponents(other, TextAlgebra.transform(b, a, false));
          }
        } else if (touches(other, current.getPathList())) {
          return Optional.empty();
        }
        next.add(other);
      }
      others = next;
      out.add(current);
    }
    return Optional.of(new Transformed(out, others));
  }

  private static EditOperation withComponents(EditOperation edit, List<io.deltasync.v1.TextComponent> components) {
    return edit.toBuilder().setText(TextEdit.newBuilder().addAllComponents(components)).build();
  }

  /** Whether a structural edit replaces, removes or shifts anything on {@code path}. */
  private static boolean touches(EditOperation edit, List<PathElement> path) {
    List<PathElement> at = edit.getPathList();
    if (at.size() >= path.size() || !path.subList(0, at.size()).equals(at)) {
      return false; // the edit's container is not above the text
    }
    PathElement below = path.get(at.size());
    return switch (edit.getKindCase()) {
      case OBJECT_SET -> below.hasKey() && below.getKey().equals(edit.getObjectSet().getKey());
      case OBJECT_UNSET -> below.hasKey() && below.getKey().equals(edit.getObjectUnset().getKey());
      case OBJECT_MERGE -> below.hasKey() && edit.getObjectMerge().getFields().containsFields(below.getKey());
      case ARRAY_REPLACE -> below.hasIndex() && below.getIndex() == edit.getArrayReplace().getIndex();
      // Inserts, removes and moves shift indexes: the text's own index may change.
      default -> below.hasIndex();
    };
  }
}

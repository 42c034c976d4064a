package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.PathElement;
import io.deltasync.v1.TextEdit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts between the wire form {@link EditOperation} and {@link Edit}, checking everything that can be checked
 * without the document and naming each bad field as in the proto (for example
 * {@code edits[2].array_remove.count: 0 (expected: >= 1)}). Whether the edits fit the document is checked by
 * {@link OperationalTransform#apply}.
 */
public final class OperationCodec {
  private static final String KINDS =
      "text, array_insert, array_remove, array_move, array_replace, object_set, object_unset or object_merge";

  private OperationCodec() {}

  /** Decodes a delta's {@code edits}; field names start with {@code edits[i]}. */
  public static List<Edit> fromProto(List<EditOperation> edits) throws InvalidOperationException {
    requireNonNull(edits, "edits");
    List<EditViolation> violations = new ArrayList<>();
    List<Edit> decoded = new ArrayList<>(edits.size());
    for (int i = 0; i < edits.size(); i++) {
      Edit edit = decode(edits.get(i), "edits[" + i + "]", violations);
      if (edit != null) {
        decoded.add(edit);
      }
    }
    if (!violations.isEmpty()) {
      throw new InvalidOperationException(violations);
    }
    return List.copyOf(decoded);
  }

  /** Encodes edits for the wire, for example the transformed edits a client must apply. */
  public static List<EditOperation> toProto(List<Edit> edits) {
    requireNonNull(edits, "edits");
    List<EditOperation> encoded = new ArrayList<>(edits.size());
    for (Edit edit : edits) {
      encoded.add(encode(edit));
    }
    return List.copyOf(encoded);
  }

  /** Encodes one edit. */
  public static EditOperation toProto(Edit edit) {
    return encode(requireNonNull(edit, "edit"));
  }

  // ---- decoding -------------------------------------------------------------------------------------------------

  /** Decodes one edit, or returns null after adding at least one violation. */
  private static Edit decode(EditOperation proto, String field, List<EditViolation> violations) {
    int before = violations.size();
    EditPath path = decodePath(proto.getPathList(), field, violations);
    Edit edit = switch (proto.getKindCase()) {
      case TEXT -> decodeText(path, proto.getText(), field + ".text", violations);
      case ARRAY_INSERT -> {
        io.deltasync.v1.ArrayInsert insert = proto.getArrayInsert();
        String at = field + ".array_insert";
        checkNonNegative(insert.getIndex(), at + ".index", violations);
        if (insert.getValuesCount() == 0) {
          violations.add(new EditViolation(at + ".values", "empty (expected: at least 1 value)"));
        }
        for (int i = 0; i < insert.getValuesCount(); i++) {
          checkValue(insert.getValues(i), at + ".values[" + i + "]", "", violations);
        }
        yield violations.size() > before ? null : new Edit.ArrayInsert(path, insert.getIndex(), insert.getValuesList());
      }
      case ARRAY_REMOVE -> {
        io.deltasync.v1.ArrayRemove remove = proto.getArrayRemove();
        checkNonNegative(remove.getIndex(), field + ".array_remove.index", violations);
        if (remove.getCount() < 1) {
          violations.add(new EditViolation(field + ".array_remove.count", remove.getCount() + " (expected: >= 1)"));
        }
        yield violations.size() > before ? null : new Edit.ArrayRemove(path, remove.getIndex(), remove.getCount());
      }
      case ARRAY_MOVE -> {
        io.deltasync.v1.ArrayMove move = proto.getArrayMove();
        checkNonNegative(move.getFromIndex(), field + ".array_move.from_index", violations);
        checkNonNegative(move.getToIndex(), field + ".array_move.to_index", violations);
        yield violations.size() > before ? null : new Edit.ArrayMove(path, move.getFromIndex(), move.getToIndex());
      }
      case ARRAY_REPLACE -> {
        io.deltasync.v1.ArrayReplace replace = proto.getArrayReplace();
        checkNonNegative(replace.getIndex(), field + ".array_replace.index", violations);
        checkRequiredValue(replace.hasValue(), replace.getValue(), field + ".array_replace.value", violations);
        yield violations.size() > before ? null : new Edit.ArrayReplace(path, replace.getIndex(), replace.getValue());
      }
      case OBJECT_SET -> {
        io.deltasync.v1.ObjectSet set = proto.getObjectSet();
        checkRequiredValue(set.hasValue(), set.getValue(), field + ".object_set.value", violations);
        yield violations.size() > before ? null : new Edit.ObjectSet(path, set.getKey(), set.getValue());
      }
      case OBJECT_UNSET -> path == null ? null : new Edit.ObjectUnset(path, proto.getObjectUnset().getKey());
      case OBJECT_MERGE -> {
        io.deltasync.v1.ObjectMerge merge = proto.getObjectMerge();
        Map<String, Value> fields = merge.getFields().getFieldsMap();
        fields.forEach((key, value) ->
            checkValue(value, field + ".object_merge.fields", "/" + EditPath.escapePointerToken(key), violations));
        yield violations.size() > before ? null : new Edit.ObjectMerge(path, new LinkedHashMap<>(fields));
      }
      case KIND_NOT_SET -> {
        violations.add(new EditViolation(field, "no edit set (expected one of " + KINDS + ")"));
        yield null;
      }
    };
    return violations.size() > before ? null : edit;
  }

  private static EditPath decodePath(List<PathElement> elements, String field, List<EditViolation> violations) {
    List<PathStep> steps = new ArrayList<>(elements.size());
    boolean valid = true;
    for (int i = 0; i < elements.size(); i++) {
      PathElement element = elements.get(i);
      String at = field + ".path[" + i + "]";
      switch (element.getElementCase()) {
        case KEY -> steps.add(PathStep.key(element.getKey()));
        case INDEX -> {
          if (element.getIndex() < 0) {
            violations.add(new EditViolation(at + ".index", element.getIndex() + " (expected: >= 0)"));
            valid = false;
          } else {
            steps.add(PathStep.index(element.getIndex()));
          }
        }
        case ELEMENT_NOT_SET -> {
          violations.add(new EditViolation(at, "neither key nor index set"));
          valid = false;
        }
      }
    }
    return valid ? new EditPath(steps) : null;
  }

  private static Edit decodeText(EditPath path, TextEdit text, String field, List<EditViolation> violations) {
    List<TextComponent> components = new ArrayList<>(text.getComponentsCount());
    boolean valid = true;
    for (int i = 0; i < text.getComponentsCount(); i++) {
      io.deltasync.v1.TextComponent component = text.getComponents(i);
      String at = field + ".components[" + i + "]";
      switch (component.getComponentCase()) {
        case RETAIN -> {
          valid &= checkPositive(component.getRetain(), at + ".retain", violations);
          components.add(TextComponent.retain(Math.max(0, component.getRetain())));
        }
        case INSERT -> components.add(TextComponent.insert(component.getInsert()));
        case DELETE -> {
          valid &= checkPositive(component.getDelete(), at + ".delete", violations);
          components.add(TextComponent.delete(Math.max(0, component.getDelete())));
        }
        case COMPONENT_NOT_SET -> {
          violations.add(new EditViolation(at, "none of retain, insert or delete set"));
          valid = false;
        }
      }
    }
    return valid && path != null ? new Edit.Text(path, components) : null;
  }

  private static boolean checkNonNegative(int value, String field, List<EditViolation> violations) {
    if (value < 0) {
      violations.add(new EditViolation(field, value + " (expected: >= 0)"));
      return false;
    }
    return true;
  }

  /** Retain and delete counts: a count below 1 is invalid, as in ot-text-unicode (and documented). */
  private static boolean checkPositive(int value, String field, List<EditViolation> violations) {
    if (value < 1) {
      violations.add(new EditViolation(field, value + " (expected: >= 1)"));
      return false;
    }
    return true;
  }

  private static void checkRequiredValue(boolean present, Value value, String field,
      List<EditViolation> violations) {
    if (!present) {
      violations.add(new EditViolation(field, "required"));
    } else {
      checkValue(value, field, "", violations);
    }
  }

  /** Checks that {@code value} is JSON: every node has a kind and every number is finite. */
  private static void checkValue(Value value, String field, String where, List<EditViolation> violations) {
    switch (value.getKindCase()) {
      case KIND_NOT_SET -> violations.add(new EditViolation(field, "no kind set" + at(where)
          + " (expected: null, number, string, bool, struct or list)"));
      case NUMBER_VALUE -> {
        if (!Double.isFinite(value.getNumberValue())) {
          violations.add(new EditViolation(field, value.getNumberValue() + at(where) + " is not a JSON number"));
        }
      }
      case STRUCT_VALUE -> value.getStructValue().getFieldsMap().forEach((key, child) ->
          checkValue(child, field, where + "/" + EditPath.escapePointerToken(key), violations));
      case LIST_VALUE -> {
        List<Value> children = value.getListValue().getValuesList();
        for (int i = 0; i < children.size(); i++) {
          checkValue(children.get(i), field, where + "/" + i, violations);
        }
      }
      default -> { }
    }
  }

  private static String at(String where) {
    return where.isEmpty() ? "" : " at '" + where + "'";
  }

  // ---- encoding -------------------------------------------------------------------------------------------------

  private static EditOperation encode(Edit edit) {
    EditOperation.Builder proto = EditOperation.newBuilder();
    for (PathStep step : edit.path().steps()) {
      if (step instanceof PathStep.Key key) {
        proto.addPath(PathElement.newBuilder().setKey(key.name()));
      } else if (step instanceof PathStep.Index index) {
        proto.addPath(PathElement.newBuilder().setIndex(index.position()));
      } else {
        throw new IllegalStateException("unknown path step: " + step);
      }
    }
    if (edit instanceof Edit.Text text) {
      TextEdit.Builder builder = proto.getTextBuilder();
      for (TextComponent component : text.components()) {
        io.deltasync.v1.TextComponent.Builder encoded = io.deltasync.v1.TextComponent.newBuilder();
        if (component instanceof TextComponent.Retain retain) {
          encoded.setRetain(retain.count());
        } else if (component instanceof TextComponent.Insert insert) {
          encoded.setInsert(insert.text());
        } else if (component instanceof TextComponent.Delete delete) {
          encoded.setDelete(delete.count());
        } else {
          throw new IllegalStateException("unknown text component: " + component); // sealed: unreachable
        }
        builder.addComponents(encoded);
      }
    } else if (edit instanceof Edit.ArrayInsert insert) {
      proto.setArrayInsert(io.deltasync.v1.ArrayInsert.newBuilder()
          .setIndex(insert.index()).addAllValues(insert.values()));
    } else if (edit instanceof Edit.ArrayRemove remove) {
      proto.setArrayRemove(io.deltasync.v1.ArrayRemove.newBuilder()
          .setIndex(remove.index()).setCount(remove.count()));
    } else if (edit instanceof Edit.ArrayMove move) {
      proto.setArrayMove(io.deltasync.v1.ArrayMove.newBuilder()
          .setFromIndex(move.fromIndex()).setToIndex(move.toIndex()));
    } else if (edit instanceof Edit.ArrayReplace replace) {
      proto.setArrayReplace(io.deltasync.v1.ArrayReplace.newBuilder()
          .setIndex(replace.index()).setValue(replace.value()));
    } else if (edit instanceof Edit.ObjectSet set) {
      proto.setObjectSet(io.deltasync.v1.ObjectSet.newBuilder()
          .setKey(set.key()).setValue(set.value()));
    } else if (edit instanceof Edit.ObjectUnset unset) {
      proto.setObjectUnset(io.deltasync.v1.ObjectUnset.newBuilder()
          .setKey(unset.key()));
    } else if (edit instanceof Edit.ObjectMerge merge) {
      proto.setObjectMerge(io.deltasync.v1.ObjectMerge.newBuilder()
          .setFields(Struct.newBuilder().putAllFields(merge.fields())));
    } else {
      throw new IllegalStateException("unknown edit: " + edit); // Edit is sealed: unreachable
    }
    return proto.build();
  }
}

package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.TextComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The SDK's edits and their transform (the shared {@code deltasync-ot} code behind the SDK's wire adapter): TP1
 * holds through the adapter for random text, array and object edits, structural edits over a pending edit move it
 * rather than giving up, and the builders refuse what no document accepts.
 */
class DocumentEditsTest {
  private static final long SEED = 1_733_000_000L;
  private static final String[] PIECES = {"a", "b", "c", " ", "é", "👋", "xy"};

  private static Value str(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static String text(SplittableRandom random, int pieces) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < pieces; i++) {
      out.append(PIECES[random.nextInt(PIECES.length)]);
    }
    return out.toString();
  }

  /** A document with a string "t", an array "items" of strings and an object "props". */
  private static Struct document(SplittableRandom random) {
    ListValue.Builder items = ListValue.newBuilder();
    int n = random.nextInt(6);
    for (int i = 0; i < n; i++) {
      items.addValues(str("i" + i));
    }
    Struct.Builder props = Struct.newBuilder();
    for (String key : List.of("a", "b", "c")) {
      if (random.nextBoolean()) {
        props.putFields(key, str(key));
      }
    }
    return Struct.newBuilder()
        .putFields("t", str(text(random, random.nextInt(8))))
        .putFields("items", Value.newBuilder().setListValue(items).build())
        .putFields("props", Value.newBuilder().setStructValue(props).build())
        .build();
  }

  /** One random edit that fits {@code on}. */
  private static EditOperation edit(SplittableRandom random, Struct on, String tag) {
    List<Value> items = on.getFieldsOrThrow("items").getListValue().getValuesList();
    Struct props = on.getFieldsOrThrow("props").getStructValue();
    int size = items.size();
    List<Object> itemsPath = List.of("items");
    List<Object> propsPath = List.of("props");
    switch (random.nextInt(8)) {
      case 0:
        return textEdit(random, on.getFieldsOrThrow("t").getStringValue());
      case 1:
        return Edits.arrayInsert(itemsPath, random.nextInt(size + 1), List.of(str(tag + random.nextInt(9))));
      case 2:
        if (size > 0) {
          int index = random.nextInt(size);
          return Edits.arrayRemove(itemsPath, index, 1 + random.nextInt(size - index));
        }
        return Edits.arrayInsert(itemsPath, 0, List.of(str(tag)));
      case 3:
        if (size > 0) {
          return Edits.arrayMove(itemsPath, random.nextInt(size), random.nextInt(size));
        }
        return Edits.objectSet(propsPath, "a", str(tag));
      case 4:
        if (size > 0) {
          return Edits.arrayReplace(itemsPath, random.nextInt(size), str(tag + "r"));
        }
        return Edits.objectSet(propsPath, "b", str(tag));
      case 5:
        return Edits.objectSet(propsPath, List.of("a", "b", "c").get(random.nextInt(3)), str(tag + "s"));
      case 6:
        if (props.getFieldsCount() > 0) {
          List<String> keys = new ArrayList<>(props.getFieldsMap().keySet());
          return Edits.objectUnset(propsPath, keys.get(random.nextInt(keys.size())));
        }
        return Edits.objectSet(propsPath, "c", str(tag));
      default:
        return Edits.objectMerge(propsPath, Struct.newBuilder().putFields("a", str(tag + "m"))
            .putFields("d", str(tag + "m")).build());
    }
  }

  private static EditOperation textEdit(SplittableRandom random, String on) {
    int length = on.codePointCount(0, on.length());
    List<TextComponent> components = new ArrayList<>();
    int position = 0;
    while (position < length || random.nextInt(3) == 0) {
      int kind = random.nextInt(3);
      int remaining = length - position;
      if (kind == 0 && remaining > 0) {
        int n = 1 + random.nextInt(remaining);
        components.add(TextComponent.newBuilder().setRetain(n).build());
        position += n;
      } else if (kind == 1 && remaining > 0) {
        int n = 1 + random.nextInt(remaining);
        components.add(TextComponent.newBuilder().setDelete(n).build());
        position += n;
      } else {
        components.add(TextComponent.newBuilder().setInsert(text(random, 1 + random.nextInt(3))).build());
        if (remaining == 0) {
          break;
        }
      }
    }
    return Edits.text(List.of("t"), components);
  }

  /** Up to three edits made one after the other on {@code on}. */
  private static List<EditOperation> edits(SplittableRandom random, Struct on, String tag) {
    List<EditOperation> out = new ArrayList<>();
    Struct current = on;
    for (int i = 0, n = 1 + random.nextInt(3); i < n; i++) {
      EditOperation edit = edit(random, current, tag);
      out.add(edit);
      current = DocumentEdits.apply(current, List.of(edit));
    }
    return out;
  }

  @Test
  void pendingAndAppliedEditsConvergeThroughTheSdksTransform() {
    SplittableRandom random = new SplittableRandom(SEED);
    for (int round = 0; round < 3_000; round++) {
      Struct document = document(random);
      List<EditOperation> pending = edits(random, document, "p");
      List<EditOperation> applied = edits(random, document, "q");
      String at = "seed " + SEED + ", round " + round + ": " + document + " / " + pending + " / " + applied;

      DocumentEdits.Transformed moved = DocumentEdits.transform(pending, applied).orElseThrow();
      Struct viaApplied = DocumentEdits.apply(DocumentEdits.apply(document, applied), moved.pending());
      Struct viaPending = DocumentEdits.apply(DocumentEdits.apply(document, pending), moved.applied());
      assertThat(viaPending).as(at).isEqualTo(viaApplied);
    }
  }

  @Test
  void aStructuralEditAboveAPendingEditMovesIt() {
    EditOperation typing = Edits.insertText(List.of("items", 1, "title"), 0, "x");
    EditOperation removal = Edits.arrayRemove(List.of("items"), 0, 1);
    DocumentEdits.Transformed moved = DocumentEdits.transform(List.of(typing), List.of(removal)).orElseThrow();
    assertThat(moved.pending()).containsExactly(Edits.insertText(List.of("items", 0, "title"), 0, "x"));
    assertThat(moved.applied()).containsExactly(removal);

    EditOperation rename = Edits.objectSet(List.of("props"), "color", str("blue"));
    EditOperation unset = Edits.objectUnset(List.of(), "props");
    assertThat(DocumentEdits.transform(List.of(rename), List.of(unset)).orElseThrow().pending())
        .as("an edit inside an object someone unset goes with it").isEmpty();
  }

  @Test
  void editsThatCannotShareADocumentAreNotTransformed() {
    EditOperation typing = Edits.insertText(List.of("t"), 0, "x");
    EditOperation insideTheString = Edits.objectSet(List.of("t"), "k", str("v"));
    assertThat(DocumentEdits.transform(List.of(insideTheString), List.of(typing))).isEmpty();
  }

  @Test
  void buildersRefuseWhatNoDocumentAcceptsAndApplyNamesTheFieldThatDoesNotFit() {
    assertThatThrownBy(() -> Edits.arrayInsert(List.of("items"), 0, List.of()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("values");
    assertThatThrownBy(() -> Edits.arrayRemove(List.of("items"), -1, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("index: -1");
    assertThatThrownBy(() -> Edits.arrayMove(List.of("items", 1.5), 0, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("step");
    // A text insert at the start has no retain of 0 (the server refuses empty components).
    assertThat(Edits.insertText(List.of("t"), 0, "x").getText().getComponentsList())
        .containsExactly(TextComponent.newBuilder().setInsert("x").build());

    Struct doc = Struct.newBuilder().putFields("items",
        Value.newBuilder().setListValue(ListValue.newBuilder().addValues(str("a"))).build()).build();
    assertThatThrownBy(() -> DocumentEdits.apply(doc, List.of(Edits.arrayRemove(List.of("items"), 0, 2))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("edits[0].array_remove.count");
  }
}

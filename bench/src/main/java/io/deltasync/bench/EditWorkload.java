package io.deltasync.bench;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.EditPath;
import io.deltasync.server.ot.InvalidOperationException;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.ot.PathStep;
import io.deltasync.server.ot.TextComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A deterministic, realistic mix of edits on a note-like document: typing into two text fields and into list items,
 * list inserts, removes, moves and replaces, and settings written. Every edit is valid on the document the ones
 * before it produce (checked by applying them while generating), so the benchmark transforms what a server would.
 */
final class EditWorkload {
  private EditWorkload() {}

  static Struct document() {
    Struct.Builder meta = Struct.newBuilder();
    for (int i = 0; i < 20; i++) {
      meta.putFields("setting" + i, number(i));
    }
    ListValue.Builder tags = ListValue.newBuilder();
    for (int i = 0; i < 50; i++) {
      tags.addValues(string("tag " + i));
    }
    ListValue.Builder items = ListValue.newBuilder();
    for (int i = 0; i < 100; i++) {
      items.addValues(Value.newBuilder().setStructValue(Struct.newBuilder()
          .putFields("name", string("item number " + i))
          .putFields("done", Value.newBuilder().setBoolValue(false).build())));
    }
    return Struct.newBuilder()
        .putFields("title", string("Weekly planning notes 📝 ".repeat(8)))
        .putFields("body", string("Lorem ipsum dolor sit amet, consectetur adipiscing elit 🚀. ".repeat(40)))
        .putFields("tags", Value.newBuilder().setListValue(tags).build())
        .putFields("items", Value.newBuilder().setListValue(items).build())
        .putFields("meta", Value.newBuilder().setStructValue(meta).build())
        .build();
  }

  /** {@code count} edits made one after another on {@code document}, from {@code seed}. */
  static List<Edit> edits(Struct document, int count, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    List<Edit> edits = new ArrayList<>(count);
    Struct current = document;
    for (int i = 0; i < count; i++) {
      Edit edit = edit(current, random);
      try {
        current = OperationalTransform.apply(current, List.of(edit));
      } catch (InvalidOperationException e) {
        throw new IllegalStateException("workload generated an invalid edit: " + edit, e);
      }
      edits.add(edit);
    }
    return edits;
  }

  private static Edit edit(Struct document, SplittableRandom random) {
    int tags = document.getFieldsOrThrow("tags").getListValue().getValuesCount();
    int items = document.getFieldsOrThrow("items").getListValue().getValuesCount();
    int pick = random.nextInt(10);
    return switch (pick) {
      case 0, 1, 2 -> typing(document, EditPath.of("body"), random);
      case 3 -> typing(document, EditPath.of("title"), random);
      case 4 -> items > 0 ? typing(document, EditPath.of("items", random.nextInt(items), "name"), random)
          : typing(document, EditPath.of("title"), random);
      case 5 -> new Edit.ArrayInsert(EditPath.of("tags"), random.nextInt(tags + 1), List.of(string("new tag")));
      case 6 -> tags > 1 ? new Edit.ArrayRemove(EditPath.of("tags"), random.nextInt(tags - 1), 1)
          : new Edit.ArrayInsert(EditPath.of("tags"), 0, List.of(string("tag")));
      case 7 -> items > 1 ? new Edit.ArrayMove(EditPath.of("items"), random.nextInt(items), random.nextInt(items))
          : new Edit.ObjectSet(EditPath.of("meta"), "setting0", number(0));
      case 8 -> items > 0 ? new Edit.ObjectSet(EditPath.of("items", random.nextInt(items)), "done",
          Value.newBuilder().setBoolValue(true).build())
          : new Edit.ObjectSet(EditPath.of("meta"), "setting1", number(1));
      default -> new Edit.ObjectMerge(EditPath.of("meta"),
          Map.of("setting" + random.nextInt(20), number(random.nextInt(1000))));
    };
  }

  /** A few characters typed at one place, sometimes replacing a selection. */
  private static Edit typing(Struct document, EditPath path, SplittableRandom random) {
    String text = stringAt(document, path);
    int length = text.codePointCount(0, text.length());
    int at = random.nextInt(length + 1);
    List<TextComponent> components = new ArrayList<>(3);
    components.add(TextComponent.retain(at));
    components.add(TextComponent.insert(random.nextBoolean() ? "ab" : "✓"));
    if (at < length && random.nextInt(4) == 0) {
      components.add(TextComponent.delete(1 + random.nextInt(Math.min(5, length - at))));
    }
    return new Edit.Text(path, components);
  }

  private static String stringAt(Struct document, EditPath path) {
    Value value = Value.newBuilder().setStructValue(document).build();
    for (int i = 0; i < path.size(); i++) {
      value = switch (path.get(i)) {
        case PathStep.Key key -> value.getStructValue().getFieldsOrThrow(key.name());
        case PathStep.Index index -> value.getListValue().getValues(index.position());
      };
    }
    return value.getStringValue();
  }

  private static Value string(String text) {
    return Value.newBuilder().setStringValue(text).build();
  }

  private static Value number(double number) {
    return Value.newBuilder().setNumberValue(number).build();
  }
}

package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.ot.Side;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.TextComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The SDK's text transform, by property over seeded random edits: TP1 holds, and it agrees with the server's own
 * operational transform (the client's port must never drift from the server's rules).
 */
class TextEditsTest {
  private static final long SEED = 1_733_000_000L;
  private static final String[] PIECES = {"a", "b", "c", " ", "é", "👋", "xy"};
  private static final List<Object> PATH = List.of("t");

  private static String text(SplittableRandom random, int pieces) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < pieces; i++) {
      out.append(PIECES[random.nextInt(PIECES.length)]);
    }
    return out.toString();
  }

  private static EditOperation edit(SplittableRandom random, String on) {
    int length = on.codePointCount(0, on.length());
    List<TextComponent> components = new ArrayList<>();
    int position = 0;
    while (position < length || random.nextInt(3) == 0) {
      int kind = random.nextInt(3);
      int remaining = length - position;
      if (kind == 0 && remaining > 0) {
        int n = 1 + random.nextInt(remaining);
        components.add(TextAlgebra.retain(n));
        position += n;
      } else if (kind == 1 && remaining > 0) {
        int n = 1 + random.nextInt(remaining);
        components.add(TextAlgebra.delete(n));
        position += n;
      } else {
        components.add(TextAlgebra.insert(text(random, 1 + random.nextInt(3))));
        if (remaining == 0) {
          break;
        }
      }
    }
    return Edits.text(PATH, components);
  }

  private static Struct doc(String text) {
    return Struct.newBuilder().putFields("t", Value.newBuilder().setStringValue(text).build()).build();
  }

  @Test
  void tp1HoldsAndTheClientAgreesWithTheServer() throws Exception {
    SplittableRandom random = new SplittableRandom(SEED);
    for (int round = 0; round < 2_000; round++) {
      String text = text(random, random.nextInt(8));
      Struct document = doc(text);
      EditOperation a = edit(random, text);
      EditOperation b = edit(random, text);
      String at = "seed " + SEED + ", round " + round + ": " + text + " / " + a + " / " + b;

      TextEdits.Transformed moved = TextEdits.transform(List.of(a), List.of(b)).orElseThrow();
      Struct viaB = TextEdits.apply(TextEdits.apply(document, List.of(b)), moved.pending());
      Struct viaA = TextEdits.apply(TextEdits.apply(document, List.of(a)), moved.applied());
      assertThat(viaA).as(at).isEqualTo(viaB);

      assertThat(TextEdits.apply(document, List.of(a))).as(at)
          .isEqualTo(OperationalTransform.apply(document, OperationCodec.fromProto(List.of(a))));
      List<EditOperation> server = OperationCodec.toProto(OperationalTransform.transform(
          OperationCodec.fromProto(List.of(a)), OperationCodec.fromProto(List.of(b)), Side.LEFT));
      assertThat(components(moved.pending())).as(at).isEqualTo(components(server));
    }
  }

  private static List<List<TextComponent>> components(List<EditOperation> edits) {
    // The server drops edits left with nothing to do; the client keeps them as empty text edits (also valid).
    return edits.stream().map(e -> TextAlgebra.normalize(e.getText().getComponentsList()))
        .filter(c -> !c.isEmpty()).toList();
  }

  @Test
  void aStructuralEditOverTheTextIsNotTransformedHere() {
    EditOperation typing = Edits.insertText(List.of("items", 1, "title"), 0, "x");
    EditOperation removal = EditOperation.newBuilder().addPath(io.deltasync.v1.PathElement.newBuilder().setKey("items"))
        .setArrayRemove(io.deltasync.v1.ArrayRemove.newBuilder().setIndex(0).setCount(1)).build();
    EditOperation elsewhere = Edits.insertText(List.of("note"), 0, "y");
    assertThat(TextEdits.transform(List.of(typing), List.of(removal))).isEmpty();
    assertThat(TextEdits.transform(List.of(typing), List.of(elsewhere))).get()
        .satisfies(t -> assertThat(t.pending()).containsExactly(typing));
  }
}

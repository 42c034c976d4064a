package io.deltasync.server.ot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.google.protobuf.Struct;
import io.deltasync.server.ot.RandomEdits.Kind;
import io.deltasync.server.ot.RandomEdits.Relation;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Convergence (TP1) of transform, by property: for edit lists {@code a} and {@code b} made on one document {@code d},
 * {@code apply(apply(d, a), b') == apply(apply(d, b), a')}, where {@code a'} and {@code b'} are the two transforms.
 */
class TransformPropertyTest {

  static LongStream seeds() {
    return Seeds.seeds();
  }

  /** Random lists of mixed kinds at mixed nested paths. */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void concurrentEditListsConverge(long seed) throws Exception {
    System.out.println("TransformPropertyTest.concurrentEditListsConverge seed=" + seed);
    int iterations = Seeds.iterations();
    for (int i = 0; i < iterations; i++) {
      RandomEdits random = new RandomEdits(new Random(Seeds.caseSeed(seed, i)));
      Struct document = random.document();
      List<Edit> a = random.edits(document, 1 + i % 3);
      List<Edit> b = random.edits(document, 1 + (i / 3) % 3);
      checkConvergence("seed=" + seed + " case=" + i, document, a, b, i % 2 == 0 ? Side.LEFT : Side.RIGHT);
    }
  }

  /**
   * Every ordered pair of edit kinds, at every path relation where both can exist on one document: the same path,
   * the second edit on an ancestor container of the first, and below the first's container (half of the time under
   * the very child the first one removes, moves or overwrites).
   */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void everyPairOfKindsConvergesAtOverlappingPaths(long seed) throws Exception {
    System.out.println("TransformPropertyTest.everyPairOfKindsConvergesAtOverlappingPaths seed=" + seed);
    int perCombination = Math.max(1, Seeds.iterations() / 50);
    Random random = new Random(seed);
    for (Kind first : Kind.values()) {
      for (Kind second : Kind.values()) {
        for (Relation relation : List.of(Relation.SAME, Relation.ANCESTOR, Relation.DESCENDANT)) {
          if (!possible(first, second, relation)) {
            continue;
          }
          int found = 0;
          for (int attempt = 0; found < perCombination && attempt < perCombination * 200; attempt++) {
            long caseSeed = random.nextLong();
            RandomEdits edits = new RandomEdits(new Random(caseSeed));
            Struct document = edits.document();
            Edit a = edits.edit(document, first, EditPath.root(), Relation.ANY, null);
            Edit b = a == null ? null : edits.edit(document, second, a.path(), relation, a);
            if (b == null) {
              continue;
            }
            found++;
            String context = "seed=" + seed + " pair=" + first + "/" + second + " " + relation + " caseSeed=" + caseSeed;
            checkConvergence(context, document, List.of(a), List.of(b), Side.LEFT);
            checkConvergence(context, document, List.of(a), List.of(b), Side.RIGHT);
          }
          assertThat(found)
              .as("seed=%d: generated cases for %s then %s at %s", seed, first, second, relation)
              .isEqualTo(perCombination);
        }
      }
    }
  }

  /** Transforming against nothing changes nothing, in both directions. */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void transformAgainstNothingIsIdentity(long seed) throws Exception {
    System.out.println("TransformPropertyTest.transformAgainstNothingIsIdentity seed=" + seed);
    int iterations = Seeds.iterations() / 4;
    for (int i = 0; i < iterations; i++) {
      RandomEdits random = new RandomEdits(new Random(Seeds.caseSeed(seed, i)));
      List<Edit> a = random.edits(random.document(), 1 + i % 4);
      for (Side side : Side.values()) {
        assertThat(OperationalTransform.transform(a, List.of(), side))
            .as("seed=%d case=%d side=%s a=%s", seed, i, side, Fixtures.json(a)).isEqualTo(a);
        assertThat(OperationalTransform.transform(List.of(), a, side))
            .as("seed=%d case=%d side=%s", seed, i, side).isEmpty();
      }
    }
  }

  /** Whether a document can hold both edits at that relation: text has no children, and categories must match. */
  private static boolean possible(Kind first, Kind second, Relation relation) {
    return switch (relation) {
      case SAME -> first.isText() && second.isText() || first.isArray() && second.isArray()
          || first.isObject() && second.isObject();
      case ANCESTOR -> !second.isText();
      case DESCENDANT -> !first.isText();
      case ANY -> true;
    };
  }

  static void checkConvergence(String context, Struct document, List<Edit> a, List<Edit> b, Side side)
      throws InvalidOperationException {
    String where = context + " side=" + side + "\n  document=" + Fixtures.json(document) + "\n  a=" + Fixtures.json(a)
        + "\n  b=" + Fixtures.json(b);
    Transformed transformed;
    List<Edit> bAfterA;
    try {
      transformed = OperationalTransform.transformBoth(a, b, side);
      bAfterA = OperationalTransform.transform(b, a, side.opposite());
    } catch (UntransformableException e) {
      throw new AssertionError(where + "\n  transform failed: " + e.getMessage(), e);
    }
    where += "\n  a'=" + Fixtures.json(transformed.ops()) + "\n  b'=" + Fixtures.json(transformed.against());
    Struct viaA;
    Struct viaB;
    try {
      viaA = OperationalTransform.apply(OperationalTransform.apply(document, a), transformed.against());
      viaB = OperationalTransform.apply(OperationalTransform.apply(document, b), transformed.ops());
    } catch (InvalidOperationException e) {
      fail(where + "\n  a transformed edit does not apply: " + e.getMessage(), e);
      return;
    }
    // Struct equality ignores key order, as JSON does; the message shows both documents.
    assertThat(viaB).as(where + "\n  via a then b'=" + Fixtures.json(viaA) + "\n  via b then a'=" + Fixtures.json(viaB))
        .isEqualTo(viaA);
    assertThat(bAfterA).as(where + "\n  transform(b, a) must equal the 'against' half of transformBoth(a, b)")
        .isEqualTo(transformed.against());
  }
}

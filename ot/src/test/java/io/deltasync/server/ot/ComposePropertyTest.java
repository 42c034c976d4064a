package io.deltasync.server.ot;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Compose agrees with applying in sequence, by property: {@code apply(d, compose(a, b)) == apply(apply(d, a), b)}. */
class ComposePropertyTest {

  static LongStream seeds() {
    return Seeds.seeds();
  }

  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void composeAgreesWithSequentialApply(long seed) throws Exception {
    System.out.println("ComposePropertyTest.composeAgreesWithSequentialApply seed=" + seed);
    int iterations = Seeds.iterations();
    int shortened = 0;
    for (int i = 0; i < iterations; i++) {
      RandomEdits random = new RandomEdits(new Random(Seeds.caseSeed(seed, i)));
      Struct document = random.document();
      // Half the cases are runs of related edits (what compose can shorten), half are scattered ones.
      boolean focused = i % 2 == 0;
      List<Edit> first = focused ? random.focusedEdits(document, 1 + i % 4) : random.edits(document, 1 + i % 4);
      Struct middle = OperationalTransform.apply(document, first);
      List<Edit> second = focused ? random.focusedEdits(middle, 1 + (i / 4) % 4) : random.edits(middle, 1 + (i / 4) % 4);
      List<Edit> composed = OperationalTransform.compose(first, second);
      String where = "seed=" + seed + " case=" + i + "\n  document=" + Fixtures.json(document) + "\n  first="
          + Fixtures.json(first) + "\n  second=" + Fixtures.json(second) + "\n  composed=" + Fixtures.json(composed);
      Struct sequential = OperationalTransform.apply(middle, second);
      assertThat(OperationalTransform.apply(document, composed)).as(where + "\n  sequential=" + Fixtures.json(sequential))
          .isEqualTo(sequential);
      assertThat(composed.size()).as(where).isLessThanOrEqualTo(first.size() + second.size());
      if (composed.size() < first.size() + second.size()) {
        shortened++;
      }
    }
    // Guards the generator as much as compose: if no case ever merges, the merge rules go untested.
    assertThat(shortened).as("seed=%d: cases where compose shortened the list", seed).isGreaterThan(iterations / 10);
  }

  /** As ot-fuzzer checks: both ways round a concurrent pair, the composed edits reach the same document. */
  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void composedTransformsOfAConcurrentPairAgree(long seed) throws Exception {
    System.out.println("ComposePropertyTest.composedTransformsOfAConcurrentPairAgree seed=" + seed);
    int iterations = Seeds.iterations() / 2;
    for (int i = 0; i < iterations; i++) {
      RandomEdits random = new RandomEdits(new Random(Seeds.caseSeed(seed, i)));
      Struct document = random.document();
      List<Edit> a = random.focusedEdits(document, 1 + i % 3);
      List<Edit> b = random.focusedEdits(document, 1 + (i / 3) % 3);
      Transformed transformed = OperationalTransform.transformBoth(a, b, Side.LEFT);
      Struct viaA = OperationalTransform.apply(document, OperationalTransform.compose(a, transformed.against()));
      Struct viaB = OperationalTransform.apply(document, OperationalTransform.compose(b, transformed.ops()));
      assertThat(viaA).as("seed=%d case=%d document=%s a=%s b=%s", seed, i, Fixtures.json(document),
          Fixtures.json(a), Fixtures.json(b)).isEqualTo(viaB);
    }
  }
}

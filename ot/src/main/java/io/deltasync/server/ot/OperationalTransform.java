package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.Struct;
import java.util.List;

/**
 * The operational-transform functions on JSON documents: {@link #apply}, {@link #transform} and {@link #compose}.
 * All are pure and thread-safe; the rules are specified in {@code docs/operational-transform.md}.
 *
 * <p>Central-server OT needs only TP1: for edit lists {@code a} and {@code b} made on one document {@code d},
 * {@code apply(apply(d, a), transform(b, a, s)) equals apply(apply(d, b), transform(a, b, s.opposite()))}.
 */
public final class OperationalTransform {
  private OperationalTransform() {}

  /**
   * Applies {@code edits} in order to {@code document}. Field names in errors count the edits from 0 as
   * {@code edits[i]}; the first edit that does not fit stops the whole list, and nothing is returned.
   */
  public static Struct apply(Struct document, List<Edit> edits) throws InvalidOperationException {
    requireNonNull(document, "document");
    requireNonNull(edits, "edits");
    return DocumentEditor.apply(document, edits);
  }

  /**
   * Transforms {@code ops} to apply after {@code against}, both made on the same document. {@code side} is the
   * tie-break of {@code ops} (see {@link Side}); the other list's transform must use the opposite side. Edits under a
   * container that {@code against} removed, unset or overwrote disappear; that is the one way data is dropped.
   *
   * @throws UntransformableException when the lists cannot have been made on one document
   */
  public static List<Edit> transform(List<Edit> ops, List<Edit> against, Side side) throws UntransformableException {
    return transformBoth(ops, against, side).ops();
  }

  /**
   * Transforms both lists past each other in one pass (the cost of one {@link #transform}): the server applies the
   * result's {@code ops} to its state, and hands the result's {@code against} to the client that sent {@code ops}
   * (which has applied them locally already) to reach the same state.
   */
  public static Transformed transformBoth(List<Edit> ops, List<Edit> against, Side side)
      throws UntransformableException {
    requireNonNull(ops, "ops");
    requireNonNull(against, "against");
    requireNonNull(side, "side");
    return Transformer.transformLists(List.copyOf(ops), List.copyOf(against), side);
  }

  /**
   * Composes {@code first} and then {@code second} into one list with the same effect on every document {@code first}
   * applies to: {@code apply(apply(d, first), second) equals apply(d, compose(first, second))}. The result is never
   * longer than the two together, and adjacent edits of one value are merged.
   */
  public static List<Edit> compose(List<Edit> first, List<Edit> second) {
    requireNonNull(first, "first");
    requireNonNull(second, "second");
    return Composer.compose(first, second);
  }
}

package io.deltasync.server.ot;

import com.google.protobuf.Value;
import io.deltasync.server.ot.Edit.ArrayInsert;
import io.deltasync.server.ot.Edit.ArrayMove;
import io.deltasync.server.ot.Edit.ArrayRemove;
import io.deltasync.server.ot.Edit.ArrayReplace;
import io.deltasync.server.ot.Edit.ObjectMerge;
import io.deltasync.server.ot.Edit.ObjectSet;
import io.deltasync.server.ot.Edit.ObjectUnset;
import io.deltasync.server.ot.Edit.Text;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Transforms edits against concurrent edits. The pairwise rules ({@link #transformEdit}) satisfy TP1 for one pair of
 * edits; {@link #transformLists} lifts them to lists the usual way (each edit of one list meets each edit of the
 * other once, in order), which keeps TP1 and costs O(n·m) pairwise steps.
 *
 * <p>The rules are specified, with reasons, in {@code docs/operational-transform.md}; keep the two in step.
 */
final class Transformer {
  private static final int GONE = -1;

  private Transformer() {}

  /**
   * Transforms {@code ops} and {@code against} (both made on the same document) past each other: the result's
   * {@code ops} apply after {@code against}, its {@code against} after {@code ops}, and both orders end equal.
   */
  static Transformed transformLists(List<Edit> ops, List<Edit> against, Side side) throws UntransformableException {
    if (ops.isEmpty() || against.isEmpty()) {
      return new Transformed(ops, against);
    }
    List<Edit> current = ops;
    List<Edit> againstOut = new ArrayList<>(against.size());
    for (Edit other : against) {
      // 'current' is ops transformed past the earlier edits of 'against', so it and 'other' start from one document.
      List<Edit> next = new ArrayList<>(current.size() + 2);
      List<Edit> others = List.of(other);
      for (int i = 0; i < current.size(); i++) {
        if (others.isEmpty()) {
          next.addAll(current.subList(i, current.size()));
          break;
        }
        Edit op = current.get(i);
        if (others.size() == 1) {
          // The common case, without the list plumbing of the general one.
          Edit single = others.get(0);
          next.addAll(transformEdit(op, single, side));
          others = transformEdit(single, op, side.opposite());
        } else {
          Transformed pair = transformLists(List.of(op), others, side);
          next.addAll(pair.ops());
          others = pair.against();
        }
      }
      againstOut.addAll(others);
      current = next;
    }
    return new Transformed(List.copyOf(current), List.copyOf(againstOut));
  }

  /** Transforms one edit so that it applies after {@code other}; the result may be empty or several edits. */
  static List<Edit> transformEdit(Edit op, Edit other, Side side) throws UntransformableException {
    if (op instanceof ArrayMove move && move.isNoOp()) {
      return List.of();
    }
    if (other instanceof ArrayMove move && move.isNoOp()) {
      return List.of(op);
    }
    EditPath path = op.path();
    EditPath otherPath = other.path();
    if (otherPath.size() < path.size()) {
      return otherPath.isPrefixOf(path) ? insideChangedContainer(op, other) : List.of(op);
    }
    if (otherPath.size() == path.size()) {
      return otherPath.equals(path) ? sameTarget(op, other, side) : List.of(op);
    }
    if (op instanceof Text && path.isPrefixOf(otherPath)) {
      throw mismatch(op, other, "an edit inside a string");
    }
    // 'other' edits inside a value that 'op' adds, removes, moves or overwrites as a whole: 'op' stands as it is.
    return List.of(op);
  }

  /** {@code op} is below the container {@code other} edits: follow its ancestor, or vanish with it. */
  private static List<Edit> insideChangedContainer(Edit op, Edit other) throws UntransformableException {
    int depth = other.path().size();
    PathStep step = op.path().get(depth);
    if (other instanceof Text) {
      throw mismatch(op, other, "an edit inside a string");
    }
    if (other instanceof ObjectSet || other instanceof ObjectUnset || other instanceof ObjectMerge) {
      if (!(step instanceof PathStep.Key key)) {
        throw mismatch(op, other, "an index into an object");
      }
      boolean replaced = writes(other, key.name()) || unsets(other, key.name());
      // The container op edits was unset or overwritten: the defined outcome is that the edit disappears with it.
      return replaced ? List.of() : List.of(op);
    }
    if (!(step instanceof PathStep.Index index)) {
      throw mismatch(op, other, "a key into an array");
    }
    int moved = mapElement(other, index.position());
    if (moved == GONE) {
      return List.of(); // the element was removed or replaced as a whole, and the edit inside it with it
    }
    return moved == index.position()
        ? List.of(op)
        : List.of(op.withPath(op.path().withStep(depth, PathStep.index(moved))));
  }

  /** Where element {@code index} is after the array edit {@code other}, or {@link #GONE}. */
  private static int mapElement(Edit other, int index) {
    if (other instanceof ArrayInsert insert) {
      return index >= insert.index() ? index + insert.values().size() : index;
    } else if (other instanceof ArrayRemove remove) {
      return index < remove.index() ? index : index >= remove.end() ? index - remove.count() : GONE;
    } else if (other instanceof ArrayMove move) {
      return mapThroughMove(move, index);
    } else if (other instanceof ArrayReplace replace) {
      return index == replace.index() ? GONE : index;
    }
    throw notArrayEdit(other);
  }

  private static int mapThroughMove(ArrayMove move, int index) {
    if (index == move.fromIndex()) {
      return move.toIndex();
    }
    int withoutMoved = index > move.fromIndex() ? index - 1 : index;
    return withoutMoved >= move.toIndex() ? withoutMoved + 1 : withoutMoved;
  }

  private static List<Edit> sameTarget(Edit op, Edit other, Side side) throws UntransformableException {
    if (op instanceof Text text) {
      if (!(other instanceof Text otherText)) {
        throw mismatch(op, other, "a text edit and a container edit at one path");
      }
      List<TextComponent> components = TextOps.transform(text.components(), otherText.components(), side);
      return components.isEmpty() ? List.of() : List.of(new Text(text.path(), components));
    }
    if (isArrayEdit(op) && isArrayEdit(other)) {
      return arrays(op, other, side);
    }
    if (isObjectEdit(op) && isObjectEdit(other)) {
      return objects(op, other, side);
    }
    throw mismatch(op, other, "edits for different kinds of value at one path");
  }

  // ---- arrays ---------------------------------------------------------------------------------------------------

  private static List<Edit> arrays(Edit op, Edit other, Side side) {
    if (op instanceof ArrayInsert insert) {
      return List.of(new ArrayInsert(insert.path(), insertGap(insert.index(), other, side), insert.values()));
    } else if (op instanceof ArrayRemove remove) {
      return removeAgainst(remove, other);
    } else if (op instanceof ArrayMove move) {
      return moveAgainst(move, other, side);
    } else if (op instanceof ArrayReplace replace) {
      return replaceAgainst(replace, other, side);
    }
    throw notArrayEdit(op);
  }

  /**
   * Where an insert at gap {@code gap} (0 to length) goes after {@code other}. Ties with another insert, or with the
   * landing place of a moved element, go to the edit on the {@link Side#LEFT}.
   */
  private static int insertGap(int gap, Edit other, Side side) {
    if (other instanceof ArrayInsert insert) {
      return gap < insert.index() || (gap == insert.index() && side == Side.LEFT)
          ? gap : gap + insert.values().size();
    } else if (other instanceof ArrayRemove remove) {
      // An insert inside a removed range lands where the range was: inserted values are never dropped.
      return gap <= remove.index() ? gap : gap >= remove.end() ? gap - remove.count() : remove.index();
    } else if (other instanceof ArrayMove move) {
      int reduced = gapWithout(gap, move.fromIndex());
      return reduced < move.toIndex() || (reduced == move.toIndex() && side == Side.LEFT) ? reduced : reduced + 1;
    } else if (other instanceof ArrayReplace) {
      return gap;
    }
    throw notArrayEdit(other);
  }

  /** Gap {@code gap} of an array as a gap of the same array without element {@code removed}. */
  private static int gapWithout(int gap, int removed) {
    return gap <= removed ? gap : gap - 1;
  }

  private static List<Edit> removeAgainst(ArrayRemove remove, Edit other) {
    EditPath path = remove.path();
    int start = remove.index();
    int end = remove.end();
    if (other instanceof ArrayInsert insert) {
      int at = insert.index();
      int added = insert.values().size();
      if (at <= start) {
        return List.of(new ArrayRemove(path, start + added, remove.count()));
      }
      if (at >= end) {
        return List.of(remove);
      }
      // The insert landed inside our range: remove around it so the inserted values survive.
      return removals(path, start, at - start, at + added, end - at);
    } else if (other instanceof ArrayRemove earlier) {
      int overlap = Math.max(0, Math.min(end, earlier.end()) - Math.max(start, earlier.index()));
      int count = remove.count() - overlap;
      if (count == 0) {
        return List.of();
      }
      int newStart = start < earlier.index() ? start : start >= earlier.end() ? start - earlier.count()
          : earlier.index();
      return List.of(new ArrayRemove(path, newStart, count));
    } else if (other instanceof ArrayMove move) {
      int from = move.fromIndex();
      int to = move.toIndex();
      boolean movedIsOurs = from >= start && from < end;
      // Our range in the array without the moved element: still contiguous, one shorter if it held that element.
      int reducedStart = from < start ? start - 1 : start;
      int reducedCount = movedIsOurs ? remove.count() - 1 : remove.count();
      int reducedEnd = reducedStart + reducedCount;
      if (movedIsOurs) {
        // We remove the moved element too, wherever it went.
        if (to >= reducedStart && to <= reducedEnd) {
          return List.of(new ArrayRemove(path, reducedStart, remove.count()));
        }
        return to < reducedStart
            ? removals(path, to, 1, reducedStart + 1, reducedCount)
            : removals(path, reducedStart, reducedCount, to, 1);
      }
      if (to <= reducedStart) {
        return List.of(new ArrayRemove(path, reducedStart + 1, reducedCount));
      }
      if (to >= reducedEnd) {
        return List.of(new ArrayRemove(path, reducedStart, reducedCount));
      }
      // Someone else's element moved into our range: remove around it.
      return removals(path, reducedStart, to - reducedStart, to + 1, reducedEnd - to);
    } else if (other instanceof ArrayReplace replace) {
      int at = replace.index();
      if (at < start || at >= end) {
        return List.of(remove);
      }
      // A replaced element is a new value someone wrote: it survives a concurrent remove of the old one.
      return removals(path, start, at - start, at + 1, end - at - 1);
    }
    throw notArrayEdit(other);
  }

  /**
   * Removes two ranges, given by start and count in the current array with {@code lowStart < highStart}, as edits
   * that apply in sequence: the higher range first, so the lower one's indexes still hold.
   */
  private static List<Edit> removals(EditPath path, int lowStart, int lowCount, int highStart, int highCount) {
    List<Edit> out = new ArrayList<>(2);
    if (highCount > 0) {
      out.add(new ArrayRemove(path, highStart, highCount));
    }
    if (lowCount > 0) {
      out.add(new ArrayRemove(path, lowStart, lowCount));
    }
    return out;
  }

  private static List<Edit> moveAgainst(ArrayMove move, Edit other, Side side) {
    int from = move.fromIndex();
    int to = move.toIndex();
    int newFrom;
    int newTo;
    if (other instanceof ArrayInsert insert) {
      int added = insert.values().size();
      newFrom = from >= insert.index() ? from + added : from;
      // Both land in the array without the moved element: the moved element at gap 'to', the values at their gap.
      int valuesGap = gapWithout(insert.index(), from);
      newTo = valuesGap < to || (valuesGap == to && side == Side.RIGHT) ? to + added : to;
    } else if (other instanceof ArrayRemove remove) {
      if (from >= remove.index() && from < remove.end()) {
        return List.of(); // the element was removed: nothing left to move
      }
      newFrom = from < remove.index() ? from : from - remove.count();
      int reducedStart = from < remove.index() ? remove.index() - 1 : remove.index();
      newTo = to <= reducedStart ? to : to >= reducedStart + remove.count() ? to - remove.count() : reducedStart;
    } else if (other instanceof ArrayMove earlier) {
      if (earlier.fromIndex() == from) {
        // Both moved the same element: the left move wins (as in json0) and starts where the other one put it.
        return side == Side.LEFT ? moveOrNothing(move.path(), earlier.toIndex(), to) : List.of();
      }
      // Each element lands at its own target gap, counted in the array without both elements. Computing the final
      // place once for both orders is what makes the pair converge.
      int otherFrom = earlier.fromIndex();
      int theirs = otherFrom > from ? otherFrom - 1 : otherFrom; // their element in the array without ours
      int ours = from > otherFrom ? from - 1 : from; // our element in the array without theirs
      int ourGap = gapWithout(to, theirs);
      int theirGap = gapWithout(earlier.toIndex(), ours);
      // One gap for both: each move also said on which side of the other element its own should be (its target
      // at or before the other's place, or after it). Where they agree (a swap both users made, from opposite
      // ends) that order holds; where both want the same side, the left element goes first.
      boolean ourBefore = to <= theirs;
      boolean theirBefore = earlier.toIndex() <= ours;
      boolean theirFirst = ourBefore != theirBefore ? theirBefore : side == Side.RIGHT;
      newFrom = mapThroughMove(earlier, from);
      newTo = theirGap < ourGap || (theirGap == ourGap && theirFirst) ? ourGap + 1 : ourGap;
    } else if (other instanceof ArrayReplace) {
      return List.of(move);
    } else {
      throw notArrayEdit(other);
    }
    return moveOrNothing(move.path(), newFrom, newTo);
  }

  private static List<Edit> moveOrNothing(EditPath path, int from, int to) {
    return from == to ? List.of() : List.of(new ArrayMove(path, from, to));
  }

  private static List<Edit> replaceAgainst(ArrayReplace replace, Edit other, Side side) {
    int index = replace.index();
    if (other instanceof ArrayInsert insert) {
      return List.of(replaceAt(replace, index >= insert.index() ? index + insert.values().size() : index));
    } else if (other instanceof ArrayRemove remove) {
      if (index < remove.index() || index >= remove.end()) {
        return List.of(replaceAt(replace, index < remove.index() ? index : index - remove.count()));
      }
      // The element was removed concurrently: the value written replaces nothing now, so it becomes an insert
      // where the removed range was (the mirror of removeAgainst keeping a replaced element).
      return List.of(new ArrayInsert(replace.path(), remove.index(), List.of(replace.value())));
    } else if (other instanceof ArrayMove move) {
      return List.of(replaceAt(replace, mapThroughMove(move, index)));
    } else if (other instanceof ArrayReplace earlier) {
      return earlier.index() != index || side == Side.LEFT ? List.of(replace) : List.of();
    }
    throw notArrayEdit(other);
  }

  private static ArrayReplace replaceAt(ArrayReplace replace, int index) {
    return index == replace.index() ? replace : new ArrayReplace(replace.path(), index, replace.value());
  }

  // ---- objects --------------------------------------------------------------------------------------------------

  /**
   * Keys are independent. On one key: writes (set, merge) beat an unset, so a value someone wrote is kept; two writes
   * go to the {@link Side#LEFT}; two unsets are one.
   */
  private static List<Edit> objects(Edit op, Edit other, Side side) {
    if (op instanceof ObjectSet set) {
      return writes(other, set.key()) && side == Side.RIGHT ? List.of() : List.of(set);
    } else if (op instanceof ObjectUnset unset) {
      return writes(other, unset.key()) || unsets(other, unset.key()) ? List.of() : List.of(unset);
    } else if (op instanceof ObjectMerge merge) {
      if (side == Side.LEFT) {
        return List.of(merge);
      }
      Map<String, Value> kept = new LinkedHashMap<>(merge.fields());
      kept.keySet().removeIf(key -> writes(other, key));
      if (kept.size() == merge.fields().size()) {
        return List.of(merge);
      }
      return kept.isEmpty() ? List.of() : List.of(new ObjectMerge(merge.path(), kept));
    }
    throw new IllegalStateException("not an object edit: " + op);
  }

  private static boolean writes(Edit edit, String key) {
    if (edit instanceof ObjectSet set) {
      return set.key().equals(key);
    } else if (edit instanceof ObjectMerge merge) {
      return merge.fields().containsKey(key);
    }
    return false;
  }

  private static boolean unsets(Edit edit, String key) {
    return edit instanceof ObjectUnset unset && unset.key().equals(key);
  }

  // ---- helpers --------------------------------------------------------------------------------------------------

  private static boolean isArrayEdit(Edit edit) {
    return edit instanceof ArrayInsert || edit instanceof ArrayRemove || edit instanceof ArrayMove
        || edit instanceof ArrayReplace;
  }

  private static boolean isObjectEdit(Edit edit) {
    return edit instanceof ObjectSet || edit instanceof ObjectUnset || edit instanceof ObjectMerge;
  }

  private static IllegalStateException notArrayEdit(Edit edit) {
    return new IllegalStateException("not an array edit: " + edit);
  }

  private static UntransformableException mismatch(Edit op, Edit other, String what) {
    return new UntransformableException("cannot transform " + op.kind() + " at '" + op.path() + "' against "
        + other.kind() + " at '" + other.path() + "': " + what + " means the two were not made on the same document");
  }
}

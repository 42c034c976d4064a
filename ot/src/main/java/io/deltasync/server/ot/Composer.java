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
 * Composes edit lists. The list {@code first ++ second} already has the combined effect; composing shortens it by
 * merging each edit into the one before it where the pair has a shorter equivalent that holds for every document
 * both could apply to (two text edits of one string, an edit inside a value that was just written, adjacent inserts
 * or removes, writes of one key). Pairs it does not know stay as they are, so the result is never wrong, only
 * sometimes longer than it could be.
 */
final class Composer {
  private Composer() {}

  static List<Edit> compose(List<Edit> first, List<Edit> second) {
    List<Edit> out = new ArrayList<>(first.size() + second.size());
    first.forEach(edit -> push(out, edit));
    second.forEach(edit -> push(out, edit));
    return List.copyOf(out);
  }

  private static void push(List<Edit> out, Edit edit) {
    Edit next = edit;
    while (true) {
      if (isNoOp(next)) {
        return;
      }
      if (out.isEmpty()) {
        out.add(next);
        return;
      }
      Edit previous = out.get(out.size() - 1);
      List<Edit> merged = merge(previous, next);
      if (merged == null) {
        out.add(next);
        return;
      }
      out.remove(out.size() - 1);
      if (merged.isEmpty()) {
        return;
      }
      next = merged.get(0); // it may merge with the edit before, in turn
    }
  }

  private static boolean isNoOp(Edit edit) {
    if (edit instanceof Text text) {
      return TextOps.normalize(text.components()).isEmpty();
    } else if (edit instanceof ArrayMove move) {
      return move.isNoOp();
    } else if (edit instanceof ObjectMerge merge) {
      return merge.fields().isEmpty();
    }
    return false;
  }

  /** One edit (or none) equivalent to {@code previous} then {@code next}, or null when there is none we know. */
  private static List<Edit> merge(Edit previous, Edit next) {
    EditPath previousPath = previous.path();
    EditPath nextPath = next.path();
    if (nextPath.size() > previousPath.size() && previousPath.isPrefixOf(nextPath)) {
      List<Edit> folded = foldIntoWrittenValue(previous, next);
      if (folded != null) {
        return folded;
      }
    }
    if (previousPath.size() > nextPath.size() && nextPath.isPrefixOf(previousPath)
        && overwritesChild(next, previousPath.get(nextPath.size()))) {
      // 'previous' edited inside a value that 'next' removes or overwrites as a whole: only 'next' matters, and it
      // does not depend on what 'previous' did (which changed nothing outside that value).
      return List.of(next);
    }
    if (!previousPath.equals(nextPath)) {
      return null;
    }
    if (previous instanceof Text text) {
      return next instanceof Text nextText
          ? List.of(new Text(text.path(), TextOps.compose(text.components(), nextText.components())))
          : null;
    } else if (previous instanceof ArrayInsert insert) {
      return mergeAfterInsert(insert, next);
    } else if (previous instanceof ArrayRemove remove) {
      return next instanceof ArrayRemove nextRemove
          && nextRemove.index() <= remove.index() && remove.index() <= nextRemove.end()
          ? List.of(new ArrayRemove(remove.path(), nextRemove.index(), remove.count() + nextRemove.count()))
          : null;
    } else if (previous instanceof ArrayMove move) {
      return next instanceof ArrayMove nextMove && nextMove.fromIndex() == move.toIndex()
          ? List.of(new ArrayMove(move.path(), move.fromIndex(), nextMove.toIndex()))
          : null;
    } else if (previous instanceof ArrayReplace replace) {
      return next instanceof ArrayReplace nextReplace && nextReplace.index() == replace.index()
          ? List.of(nextReplace)
          : null;
    } else if (previous instanceof ObjectSet set) {
      return mergeAfterWrite(set.path(), Map.of(set.key(), set.value()), next);
    } else if (previous instanceof ObjectMerge merge) {
      return mergeAfterWrite(merge.path(), merge.fields(), next);
    } else if (previous instanceof ObjectUnset unset) {
      // Unset then set is a set: a set does not care whether the key was there.
      if (next instanceof ObjectSet set && set.key().equals(unset.key())) {
        return List.of(set);
      }
      if (next instanceof ObjectMerge merge && merge.fields().containsKey(unset.key())) {
        return List.of(merge);
      }
    }
    return null;
  }

  /** {@code next} edits inside a value {@code previous} wrote: write the edited value instead. */
  private static List<Edit> foldIntoWrittenValue(Edit previous, Edit next) {
    int depth = previous.path().size();
    PathStep step = next.path().get(depth);
    EditPath inside = next.path().suffix(depth + 1);
    if (previous instanceof ObjectSet set) {
      if (step instanceof PathStep.Key key && key.name().equals(set.key())) {
        Value edited = applyInside(set.value(), next.withPath(inside));
        return edited == null ? null : List.of(new ObjectSet(set.path(), set.key(), edited));
      }
    } else if (previous instanceof ObjectMerge merge) {
      if (step instanceof PathStep.Key key && merge.fields().containsKey(key.name())) {
        Value edited = applyInside(merge.fields().get(key.name()), next.withPath(inside));
        if (edited == null) {
          return null;
        }
        Map<String, Value> fields = new LinkedHashMap<>(merge.fields());
        fields.put(key.name(), edited);
        return List.of(new ObjectMerge(merge.path(), fields));
      }
    } else if (previous instanceof ArrayReplace replace) {
      if (step instanceof PathStep.Index index && index.position() == replace.index()) {
        Value edited = applyInside(replace.value(), next.withPath(inside));
        return edited == null ? null : List.of(new ArrayReplace(replace.path(), replace.index(), edited));
      }
    } else if (previous instanceof ArrayInsert insert) {
      if (step instanceof PathStep.Index index && index.position() >= insert.index()
          && index.position() < insert.index() + insert.values().size()) {
        int offset = index.position() - insert.index();
        Value edited = applyInside(insert.values().get(offset), next.withPath(inside));
        if (edited == null) {
          return null;
        }
        List<Value> values = new ArrayList<>(insert.values());
        values.set(offset, edited);
        return List.of(new ArrayInsert(insert.path(), insert.index(), values));
      }
    }
    return null;
  }

  private static Value applyInside(Value value, Edit edit) {
    try {
      return DocumentEditor.applyToValue(value, edit);
    } catch (InvalidOperationException e) {
      return null; // 'next' does not fit: leave the pair alone and let apply report it with its real field name
    }
  }

  /** Whether {@code edit} removes or overwrites its container's child at {@code step} as a whole. */
  private static boolean overwritesChild(Edit edit, PathStep step) {
    if (edit instanceof ObjectSet set) {
      return step instanceof PathStep.Key key && key.name().equals(set.key());
    } else if (edit instanceof ObjectUnset unset) {
      return step instanceof PathStep.Key key && key.name().equals(unset.key());
    } else if (edit instanceof ObjectMerge merge) {
      return step instanceof PathStep.Key key && merge.fields().containsKey(key.name());
    } else if (edit instanceof ArrayReplace replace) {
      return step instanceof PathStep.Index index && index.position() == replace.index();
    } else if (edit instanceof ArrayRemove remove) {
      return step instanceof PathStep.Index index && index.position() >= remove.index()
          && index.position() < remove.end();
    }
    return false;
  }

  private static List<Edit> mergeAfterInsert(ArrayInsert insert, Edit next) {
    int start = insert.index();
    int end = start + insert.values().size();
    if (next instanceof ArrayInsert more && more.index() >= start && more.index() <= end) {
      List<Value> values = new ArrayList<>(insert.values());
      values.addAll(more.index() - start, more.values());
      return List.of(new ArrayInsert(insert.path(), start, values));
    } else if (next instanceof ArrayRemove remove && remove.index() >= start && remove.end() <= end) {
      List<Value> values = new ArrayList<>(insert.values());
      values.subList(remove.index() - start, remove.end() - start).clear();
      return values.isEmpty() ? List.of() : List.of(new ArrayInsert(insert.path(), start, values));
    } else if (next instanceof ArrayReplace replace && replace.index() >= start && replace.index() < end) {
      List<Value> values = new ArrayList<>(insert.values());
      values.set(replace.index() - start, replace.value());
      return List.of(new ArrayInsert(insert.path(), start, values));
    }
    return null;
  }

  /** {@code previous} wrote {@code written} into the object at {@code path}; merge a following set or merge. */
  private static List<Edit> mergeAfterWrite(EditPath path, Map<String, Value> written, Edit next) {
    Map<String, Value> fields;
    if (next instanceof ObjectSet set) {
      if (written.size() == 1 && written.containsKey(set.key())) {
        return List.of(set);
      }
      fields = new LinkedHashMap<>(written);
      fields.put(set.key(), set.value());
    } else if (next instanceof ObjectMerge merge) {
      fields = new LinkedHashMap<>(written);
      fields.putAll(merge.fields());
    } else {
      return null;
    }
    return List.of(new ObjectMerge(path, fields));
  }
}

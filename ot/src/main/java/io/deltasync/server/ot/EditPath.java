package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;

/**
 * Where an edit applies: the steps from the document root to the value edited (for a text edit, the string; for an
 * array or object edit, the container).
 */
public record EditPath(List<PathStep> steps) {
  private static final EditPath ROOT = new EditPath(List.of());

  public EditPath {
    steps = List.copyOf(requireNonNull(steps, "steps"));
  }

  /** The document root. */
  public static EditPath root() {
    return ROOT;
  }

  /** A path from keys ({@link String}) and indexes ({@link Integer}), for example {@code of("items", 2, "title")}. */
  public static EditPath of(Object... steps) {
    List<PathStep> list = new ArrayList<>(steps.length);
    for (Object step : steps) {
      if (step instanceof String key) {
        list.add(PathStep.key(key));
      } else if (step instanceof Integer index) {
        list.add(PathStep.index(index));
      } else if (step instanceof PathStep pathStep) {
        list.add(pathStep);
      } else {
        throw new IllegalArgumentException("step: " + step + " (expected: a String key or an Integer index)");
      }
    }
    return new EditPath(list);
  }

  /** The number of steps. */
  public int size() {
    return steps.size();
  }

  /** The step at {@code depth} (0 is the step out of the root). */
  public PathStep get(int depth) {
    return steps.get(depth);
  }

  /** This path with one more step at the end. */
  public EditPath child(PathStep step) {
    List<PathStep> list = new ArrayList<>(steps.size() + 1);
    list.addAll(steps);
    list.add(requireNonNull(step, "step"));
    return new EditPath(list);
  }

  /** This path with the step at {@code depth} replaced, as when an ancestor array element moved. */
  public EditPath withStep(int depth, PathStep step) {
    List<PathStep> list = new ArrayList<>(steps);
    list.set(depth, requireNonNull(step, "step"));
    return new EditPath(list);
  }

  /** The steps after the first {@code depth} ones: this path as seen from a value at depth {@code depth}. */
  public EditPath suffix(int depth) {
    return new EditPath(steps.subList(depth, steps.size()));
  }

  /** Whether this path is {@code other} or one of its ancestors. */
  public boolean isPrefixOf(EditPath other) {
    if (steps.size() > other.steps.size()) {
      return false;
    }
    // Compare from the deepest step: sibling paths in the same document usually differ late, so this fails fast.
    for (int i = steps.size() - 1; i >= 0; i--) {
      if (!steps.get(i).equals(other.steps.get(i))) {
        return false;
      }
    }
    return true;
  }

  /** A JSON Pointer (RFC 6901), for example {@code /items/2/title}; the root is the empty string. */
  @Override
  public String toString() {
    StringBuilder out = new StringBuilder();
    for (PathStep step : steps) {
      out.append('/').append(step);
    }
    return out.toString();
  }

  static String escapePointerToken(String key) {
    return key.replace("~", "~0").replace("/", "~1");
  }
}

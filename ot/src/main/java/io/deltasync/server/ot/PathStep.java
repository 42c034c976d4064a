package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

/** One step of an {@link EditPath}: an object key or an array index. */
public sealed interface PathStep permits PathStep.Key, PathStep.Index {

  /** Steps into an object by key. */
  static PathStep key(String name) {
    return new Key(name);
  }

  /** Steps into an array by index. */
  static PathStep index(int position) {
    return new Index(position);
  }

  /** A key of an object. */
  record Key(String name) implements PathStep {
    public Key {
      requireNonNull(name, "name");
    }

    @Override
    public String toString() {
      return EditPath.escapePointerToken(name);
    }
  }

  /** A 0-based index into an array. */
  record Index(int position) implements PathStep {
    public Index {
      if (position < 0) {
        throw new IllegalArgumentException("position: " + position + " (expected: >= 0)");
      }
    }

    @Override
    public String toString() {
      return Integer.toString(position);
    }
  }
}

package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

/** One component of a text edit; lengths count Unicode code points, never UTF-16 units. */
public sealed interface TextComponent permits TextComponent.Retain, TextComponent.Insert, TextComponent.Delete {

  /** Keeps {@code count} code points. */
  static TextComponent retain(int count) {
    return new Retain(count);
  }

  /** Inserts {@code text}. */
  static TextComponent insert(String text) {
    return new Insert(text);
  }

  /** Deletes {@code count} code points. */
  static TextComponent delete(int count) {
    return new Delete(count);
  }

  /** Keeps this many code points of the original text. */
  record Retain(int count) implements TextComponent {
    public Retain {
      if (count < 0) {
        throw new IllegalArgumentException("count: " + count + " (expected: >= 0)");
      }
    }
  }

  /** Inserts this text at the current position. */
  record Insert(String text) implements TextComponent {
    public Insert {
      requireNonNull(text, "text");
    }

    /** The inserted length in code points. */
    public int codePoints() {
      return text.codePointCount(0, text.length());
    }
  }

  /** Deletes this many code points of the original text. */
  record Delete(int count) implements TextComponent {
    public Delete {
      if (count < 0) {
        throw new IllegalArgumentException("count: " + count + " (expected: >= 0)");
      }
    }
  }
}

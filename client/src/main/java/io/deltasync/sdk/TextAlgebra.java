package io.deltasync.sdk;

import io.deltasync.v1.TextComponent;
import java.util.ArrayList;
import java.util.List;

/**
 * Apply and transform of text edits (retain / insert / delete, counting code points), the rules of
 * docs/operational-transform.md and ottypes text-unicode. A Java 17 port of the server's {@code TextOps}: the server's
 * operational-transform package lives in the server module and needs Java 21, so the SDK cannot depend on it. Keep
 * the two in step until that package moves into a module of its own.
 */
final class TextAlgebra {
  private TextAlgebra() {}

  /** Applies {@code components} to {@code text}; throws IllegalArgumentException when they do not fit. */
  static String apply(String text, List<TextComponent> components) {
    int length = text.codePointCount(0, text.length());
    StringBuilder out = new StringBuilder(text.length() + 16);
    int offset = 0;
    int position = 0;
    for (TextComponent component : components) {
      switch (component.getComponentCase()) {
        case RETAIN -> {
          checkWithin(component.getRetain(), position, length);
          int end = text.offsetByCodePoints(offset, component.getRetain());
          out.append(text, offset, end);
          offset = end;
          position += component.getRetain();
        }
        case INSERT -> out.append(component.getInsert());
        case DELETE -> {
          checkWithin(component.getDelete(), position, length);
          offset = text.offsetByCodePoints(offset, component.getDelete());
          position += component.getDelete();
        }
        default -> throw new IllegalArgumentException("text component not set");
      }
    }
    return out.append(text, offset, text.length()).toString();
  }

  private static void checkWithin(int count, int position, int length) {
    if (count < 0 || count > length - position) {
      throw new IllegalArgumentException("text edit: " + count + " at code point " + position
          + " runs past the end (expected: <= " + (length - position) + ")");
    }
  }

  /** Transforms {@code op} to apply after {@code other} (both made on the same text); {@code left}: op's insert first. */
  static List<TextComponent> transform(List<TextComponent> op, List<TextComponent> other, boolean left) {
    Builder out = new Builder();
    Cursor cursor = new Cursor(normalize(op));
    for (TextComponent component : normalize(other)) {
      switch (component.getComponentCase()) {
        case RETAIN -> {
          int remaining = component.getRetain();
          while (remaining > 0 && cursor.hasNext()) {
            TextComponent chunk = cursor.takeKeepingInserts(remaining);
            out.append(chunk);
            remaining -= originalLength(chunk);
          }
        }
        case INSERT -> {
          if (left && cursor.hasNext() && cursor.peek().hasInsert()) {
            out.append(cursor.takeKeepingInserts(Integer.MAX_VALUE));
          }
          out.append(retain(codePoints(component.getInsert())));
        }
        case DELETE -> {
          int remaining = component.getDelete();
          while (remaining > 0 && cursor.hasNext()) {
            TextComponent chunk = cursor.takeKeepingInserts(remaining);
            if (chunk.hasInsert()) {
              out.append(chunk);
            }
            remaining -= originalLength(chunk);
          }
        }
        default -> throw new IllegalArgumentException("text component not set");
      }
    }
    while (cursor.hasNext()) {
      out.append(cursor.takeKeepingInserts(Integer.MAX_VALUE));
    }
    return out.build();
  }

  static List<TextComponent> normalize(List<TextComponent> components) {
    Builder out = new Builder();
    components.forEach(out::append);
    return out.build();
  }

  private static int codePoints(String text) {
    return text.codePointCount(0, text.length());
  }

  private static int originalLength(TextComponent component) {
    return component.hasRetain() ? component.getRetain() : component.hasDelete() ? component.getDelete() : 0;
  }

  static TextComponent retain(int count) {
    return TextComponent.newBuilder().setRetain(count).build();
  }

  static TextComponent insert(String text) {
    return TextComponent.newBuilder().setInsert(text).build();
  }

  static TextComponent delete(int count) {
    return TextComponent.newBuilder().setDelete(count).build();
  }

  /** Reads a component list in pieces, splitting components where a length ends inside one. */
  private static final class Cursor {
    private final List<TextComponent> components;
    private int index;
    private int offset; // code points for retain/delete, UTF-16 units for insert

    Cursor(List<TextComponent> components) {
      this.components = components;
    }

    boolean hasNext() {
      return index < components.size();
    }

    TextComponent peek() {
      return components.get(index);
    }

    TextComponent takeKeepingInserts(int max) {
      TextComponent current = components.get(index);
      if (current.hasInsert()) {
        TextComponent part = offset == 0 ? current : insert(current.getInsert().substring(offset));
        index++;
        offset = 0;
        return part;
      }
      int total = current.hasRetain() ? current.getRetain() : current.getDelete();
      int available = total - offset;
      int taken;
      if (available <= max) {
        index++;
        offset = 0;
        taken = available;
      } else {
        offset += max;
        taken = max;
      }
      return current.hasRetain() ? retain(taken) : delete(taken);
    }
  }

  /** Appends components in canonical form: no empty ones, neighbours of one kind merged, no trailing retain. */
  private static final class Builder {
    private final List<TextComponent> out = new ArrayList<>();

    void append(TextComponent component) {
      TextComponent last = out.isEmpty() ? null : out.get(out.size() - 1);
      switch (component.getComponentCase()) {
        case RETAIN -> {
          if (component.getRetain() == 0) {
            return;
          }
          if (last != null && last.hasRetain()) {
            out.set(out.size() - 1, retain(last.getRetain() + component.getRetain()));
          } else {
            out.add(component);
          }
        }
        case DELETE -> {
          if (component.getDelete() == 0) {
            return;
          }
          if (last != null && last.hasDelete()) {
            out.set(out.size() - 1, delete(last.getDelete() + component.getDelete()));
          } else {
            out.add(component);
          }
        }
        case INSERT -> {
          if (component.getInsert().isEmpty()) {
            return;
          }
          // Never reorder an insert before a neighbouring delete: the two orders transform differently (see the
          // server's TextOps and docs/operational-transform.md, "Two text edits of one string").
          if (last != null && last.hasInsert()) {
            out.set(out.size() - 1, insert(last.getInsert() + component.getInsert()));
          } else {
            out.add(component);
          }
        }
        default -> throw new IllegalArgumentException("text component not set");
      }
    }

    List<TextComponent> build() {
      if (!out.isEmpty() && out.get(out.size() - 1).hasRetain()) {
        out.remove(out.size() - 1);
      }
      return List.copyOf(out);
    }
  }
}

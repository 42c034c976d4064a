package io.deltasync.server.ot;

import io.deltasync.server.ot.TextComponent.Delete;
import io.deltasync.server.ot.TextComponent.Insert;
import io.deltasync.server.ot.TextComponent.Retain;
import java.util.ArrayList;
import java.util.List;

/**
 * The text algebra: apply, transform and compose of component lists, counting code points. It follows the shape of
 * ottypes text-unicode (retain / insert / delete, trailing text implicitly kept) so its convergence argument carries
 * over; we keep our own because there is no maintained JVM port and our inputs are protobuf strings.
 */
final class TextOps {
  private TextOps() {}

  /** Applies {@code components} to {@code text}; {@code field} names the text edit in errors. */
  static String apply(String text, List<TextComponent> components, String field) throws InvalidOperationException {
    int length = text.codePointCount(0, text.length());
    StringBuilder out = new StringBuilder(text.length() + 16);
    int offset = 0; // in UTF-16 units, so that appends can copy ranges of the original
    int position = 0; // in code points
    for (int i = 0; i < components.size(); i++) {
      TextComponent component = components.get(i);
      if (component instanceof Retain retain) {
        checkWithin(retain.count(), position, length, field + ".components[" + i + "].retain");
        int end = text.offsetByCodePoints(offset, retain.count());
        out.append(text, offset, end);
        offset = end;
        position += retain.count();
      } else if (component instanceof Insert insert) {
        out.append(insert.text());
      } else if (component instanceof Delete delete) {
        checkWithin(delete.count(), position, length, field + ".components[" + i + "].delete");
        offset = text.offsetByCodePoints(offset, delete.count());
        position += delete.count();
      } else {
        throw unknown(component);
      }
    }
    return out.append(text, offset, text.length()).toString();
  }

  private static void checkWithin(int count, int position, int length, String field)
      throws InvalidOperationException {
    if (count > length - position) {
      throw new InvalidOperationException(field, count + " runs past the end of the text (at code point " + position
          + " of " + length + ")");
    }
  }

  /**
   * The canonical form, as ot-text-unicode's normalize: no empty components, neighbours of one kind merged, no tail
   * retain. The order of components is kept.
   */
  static List<TextComponent> normalize(List<TextComponent> components) {
    Builder out = new Builder();
    components.forEach(out::append);
    return out.build();
  }

  /**
   * Transforms {@code op} so that it applies after {@code other} (both made on the same text). On {@link Side#LEFT},
   * an insert of {@code op} at the position where {@code other} inserts goes first.
   */
  static List<TextComponent> transform(List<TextComponent> op, List<TextComponent> other, Side side) {
    Builder out = new Builder();
    Cursor cursor = new Cursor(normalize(op));
    for (TextComponent component : normalize(other)) {
      if (component instanceof Retain retain) {
        int remaining = retain.count();
        while (remaining > 0 && cursor.hasNext()) {
          TextComponent chunk = cursor.takeKeepingInserts(remaining);
          out.append(chunk);
          remaining -= originalLength(chunk);
        }
      } else if (component instanceof Insert insert) {
        if (side == Side.LEFT && cursor.peek() instanceof Insert) {
          out.append(cursor.takeKeepingInserts(Integer.MAX_VALUE));
        }
        out.append(new Retain(insert.codePoints()));
      } else if (component instanceof Delete delete) {
        int remaining = delete.count();
        while (remaining > 0 && cursor.hasNext()) {
          TextComponent chunk = cursor.takeKeepingInserts(remaining);
          // The other edit deleted this text: our retain of it has nothing left to keep, our delete is done already.
          if (chunk instanceof Insert) {
            out.append(chunk);
          }
          remaining -= originalLength(chunk);
        }
      } else {
        throw unknown(component);
      }
    }
    while (cursor.hasNext()) {
      out.append(cursor.takeKeepingInserts(Integer.MAX_VALUE));
    }
    return out.build();
  }

  /** Composes {@code first} then {@code second} into one edit with the same effect. */
  static List<TextComponent> compose(List<TextComponent> first, List<TextComponent> second) {
    Builder out = new Builder();
    Cursor cursor = new Cursor(normalize(first));
    for (TextComponent component : normalize(second)) {
      if (component instanceof Retain retain) {
        int remaining = retain.count();
        while (remaining > 0) {
          if (!cursor.hasNext()) {
            out.append(new Retain(remaining));
            break;
          }
          TextComponent chunk = cursor.takeKeepingDeletes(remaining);
          out.append(chunk);
          remaining -= resultLength(chunk);
        }
      } else if (component instanceof Insert insert) {
        out.append(insert);
      } else if (component instanceof Delete delete) {
        int remaining = delete.count();
        while (remaining > 0) {
          if (!cursor.hasNext()) {
            out.append(new Delete(remaining));
            break;
          }
          TextComponent chunk = cursor.takeKeepingDeletes(remaining);
          if (chunk instanceof Retain kept) {
            out.append(new Delete(kept.count()));
          } else if (chunk instanceof Delete earlier) {
            out.append(earlier); // deletes of the original text pass through
          } // an Insert: inserted, then deleted, nothing remains
          remaining -= resultLength(chunk);
        }
      } else {
        throw unknown(component);
      }
    }
    while (cursor.hasNext()) {
      out.append(cursor.takeKeepingDeletes(Integer.MAX_VALUE));
    }
    return out.build();
  }

  /** Code points of the original text the component covers. */
  private static int originalLength(TextComponent component) {
    if (component instanceof Retain retain) {
      return retain.count();
    } else if (component instanceof Delete delete) {
      return delete.count();
    } else if (component instanceof Insert) {
      return 0;
    }
    throw unknown(component);
  }

  /** Code points of the resulting text the component produces. */
  private static int resultLength(TextComponent component) {
    if (component instanceof Retain retain) {
      return retain.count();
    } else if (component instanceof Insert insert) {
      return insert.codePoints();
    } else if (component instanceof Delete) {
      return 0;
    }
    throw unknown(component);
  }

  /** TextComponent is sealed, so this is unreachable; Java 17 (Android) has no exhaustive switch over it. */
  private static IllegalStateException unknown(TextComponent component) {
    return new IllegalStateException("unknown text component: " + component);
  }

  /** Reads a component list in pieces, splitting components where a length ends inside one. */
  private static final class Cursor {
    private final List<TextComponent> components;
    private int index;
    private int offset; // into the current component: code points for retain/delete, UTF-16 units for insert

    Cursor(List<TextComponent> components) {
      this.components = components;
    }

    boolean hasNext() {
      return index < components.size();
    }

    TextComponent peek() {
      return hasNext() ? components.get(index) : null;
    }

    /** Up to {@code max} code points of original text; an insert (which covers none) comes whole. */
    TextComponent takeKeepingInserts(int max) {
      TextComponent current = components.get(index);
      return current instanceof Insert insert ? rest(insert) : takeCounted(current, max);
    }

    /** Up to {@code max} code points of resulting text; a delete (which produces none) comes whole. */
    TextComponent takeKeepingDeletes(int max) {
      TextComponent current = components.get(index);
      return current instanceof Delete delete ? takeCounted(delete, Integer.MAX_VALUE) : takeCounted(current, max);
    }

    private TextComponent takeCounted(TextComponent current, int max) {
      if (current instanceof Retain retain) {
        return new Retain(takeCount(retain.count(), max));
      } else if (current instanceof Delete delete) {
        return new Delete(takeCount(delete.count(), max));
      } else if (current instanceof Insert insert) {
        String text = insert.text();
        int available = text.codePointCount(offset, text.length());
        if (available <= max) {
          return rest(insert);
        }
        int end = text.offsetByCodePoints(offset, max);
        Insert part = new Insert(text.substring(offset, end));
        offset = end;
        return part;
      }
      throw unknown(current);
    }

    private int takeCount(int total, int max) {
      int available = total - offset;
      if (available <= max) {
        index++;
        offset = 0;
        return available;
      }
      offset += max;
      return max;
    }

    private Insert rest(Insert insert) {
      Insert part = offset == 0 ? insert : new Insert(insert.text().substring(offset));
      index++;
      offset = 0;
      return part;
    }
  }

  /** Appends components in canonical form (see {@link #normalize}). */
  private static final class Builder {
    private final List<TextComponent> out = new ArrayList<>();

    void append(TextComponent component) {
      if (component instanceof Retain retain) {
        if (retain.count() == 0) {
          return;
        }
        if (last() instanceof Retain previous) {
          out.set(out.size() - 1, new Retain(previous.count() + retain.count()));
        } else {
          out.add(retain);
        }
      } else if (component instanceof Delete delete) {
        if (delete.count() == 0) {
          return;
        }
        if (last() instanceof Delete previous) {
          out.set(out.size() - 1, new Delete(previous.count() + delete.count()));
        } else {
          out.add(delete);
        }
      } else if (component instanceof Insert insert) {
        if (insert.text().isEmpty()) {
          return;
        }
        // No reordering of an insert before a neighbouring delete: both orders apply alike, but they transform
        // differently. [delete, insert] records that the inserted text stood after the deleted text, so a concurrent
        // insert there goes before it whatever the side; rewriting it to [insert, delete] made the tie-break decide
        // instead and diverged from ot-text-unicode (docs/operational-transform.md, "Two text edits of one string").
        if (last() instanceof Insert previous) {
          out.set(out.size() - 1, new Insert(previous.text() + insert.text()));
        } else {
          out.add(insert);
        }
      } else {
        throw unknown(component);
      }
    }

    List<TextComponent> build() {
      if (last() instanceof Retain) {
        out.remove(out.size() - 1);
      }
      return List.copyOf(out);
    }

    private TextComponent last() {
      return out.isEmpty() ? null : out.get(out.size() - 1);
    }
  }
}

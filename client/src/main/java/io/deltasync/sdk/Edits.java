package io.deltasync.sdk;

import io.deltasync.v1.EditOperation;
import io.deltasync.v1.TextComponent;
import java.util.List;

/**
 * Builds the text edits {@link SyncClient#edit} takes. A path leads from the document root to the string: object
 * keys as {@code String}, array indexes as {@code Integer}. Positions count Unicode code points, not UTF-16 units.
 */
public final class Edits {
  private Edits() {}

  /** Inserts {@code text} at code point {@code at} of the string at {@code path}. */
  public static EditOperation insertText(List<Object> path, int at, String text) {
    return TextEdits.text(path, List.of(TextAlgebra.retain(at), TextAlgebra.insert(text)));
  }

  /** Deletes {@code count} code points from code point {@code at} of the string at {@code path}. */
  public static EditOperation deleteText(List<Object> path, int at, int count) {
    return TextEdits.text(path, List.of(TextAlgebra.retain(at), TextAlgebra.delete(count)));
  }

  /** A text edit of retain / insert / delete components. */
  public static EditOperation text(List<Object> path, List<TextComponent> components) {
    return TextEdits.text(path, components);
  }
}

package io.deltasync.sdk;

import com.google.protobuf.Struct;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.EditPath;
import io.deltasync.server.ot.InvalidOperationException;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.ot.Side;
import io.deltasync.server.ot.UntransformableException;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.TextComponent;
import io.deltasync.v1.TextEdit;
import java.util.List;
import java.util.Optional;

/**
 * The SDK's operational transform on documents: text, array and object edits, applied and transformed by the very
 * code the server merges with ({@code deltasync-ot}, {@link OperationalTransform}), so a client cannot drift from the
 * server's rules. This class only adapts the wire messages the SDK stores in its outbox.
 */
final class DocumentEdits {
  /**
   * The tie-break of our pending edits against {@code rebase_edits}. Any fixed side converges (docs/protocol.md,
   * "edits in flight": the server never sees this pair, it gets the transformed edits themselves); LEFT keeps what
   * the user typed last where it meets another insert at the same place, as the SDK always did for text.
   */
  private static final Side PENDING_SIDE = Side.LEFT;

  private DocumentEdits() {}

  /** A path as the ot package takes it, from object keys ({@code String}) and array indexes ({@code Integer}). */
  static EditPath path(List<Object> path) {
    return EditPath.of(path.toArray());
  }

  /** The wire form of one edit; the edit's own constructor has checked what holds for every document. */
  static EditOperation encode(Edit edit) {
    return OperationCodec.toProto(edit);
  }

  /** A text edit of the string at {@code path}, without the empty components the server refuses. */
  static EditOperation text(List<Object> path, List<TextComponent> components) {
    TextEdit.Builder text = TextEdit.newBuilder();
    for (TextComponent component : components) {
      boolean empty = component.hasRetain() ? component.getRetain() == 0
          : component.hasDelete() ? component.getDelete() == 0
          : !component.hasInsert() || component.getInsert().isEmpty();
      if (!empty) {
        text.addComponents(component);
      }
    }
    EditOperation.Builder edit = OperationCodec.toProto(new Edit.Text(path(path), List.of())).toBuilder();
    return edit.setText(text).build();
  }

  /** Applies edits in order; IllegalArgumentException (naming the field) when one is malformed or does not fit. */
  static Struct apply(Struct document, List<EditOperation> edits) {
    try {
      return OperationalTransform.apply(document, OperationCodec.fromProto(edits));
    } catch (InvalidOperationException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /** Pending edits transformed past edits applied before them, and those edits transformed past the pending ones. */
  record Transformed(List<EditOperation> pending, List<EditOperation> applied) {}

  /**
   * Transforms {@code pending} (made on document d) to apply after {@code applied} (also made on d), and
   * {@code applied} past {@code pending}, as in a Jupiter client. The pending list may come back empty (an edit of a
   * value the other side removed, an unset the other side made too). Empty when the two cannot have been made on one
   * document (a malformed list, or an edit inside a string), where the caller falls back to a whole-document update.
   */
  static Optional<Transformed> transform(List<EditOperation> pending, List<EditOperation> applied) {
    try {
      io.deltasync.server.ot.Transformed both = OperationalTransform.transformBoth(
          OperationCodec.fromProto(pending), OperationCodec.fromProto(applied), PENDING_SIDE);
      return Optional.of(new Transformed(OperationCodec.toProto(both.ops()), OperationCodec.toProto(both.against())));
    } catch (InvalidOperationException | UntransformableException e) {
      return Optional.empty();
    }
  }
}

package io.deltasync.server.wire;

import io.deltasync.v1.Change;
import io.deltasync.v1.SyncResponse;
import java.io.ByteArrayInputStream;
import java.io.InputStream;

/**
 * Pages whose documents travel as wire bytes: the stream's catch-up and initial-state reads carry each document as
 * the entity's unknown field under the document's own field number ({@code store.DocumentWire}), which every
 * protobuf parser reads as the document. Such a message must reach its client as bytes: gRPC's protobuf marshaller
 * hands an in-process client the very message object instead of its bytes, and that object's {@code getData()} is
 * empty. So the Sync method's marshaller ({@link SharedResponses.Marshaller}) serializes these messages into one
 * array (protobuf's array encoder, faster than its stream encoder) and sends the array, on every transport.
 */
final class DocumentBytes {
  private DocumentBytes() {}

  /** Whether any change of {@code message} carries its documents as wire bytes. */
  static boolean carried(SyncResponse message) {
    if (!message.hasChanges()) {
      return false;
    }
    for (Change change : message.getChanges().getChangesList()) {
      if (!change.getEntity().getUnknownFields().asMap().isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /** The message's bytes, framed by gRPC by their known length. */
  static InputStream stream(SyncResponse message) {
    return new ByteArrayInputStream(message.toByteArray());
  }
}

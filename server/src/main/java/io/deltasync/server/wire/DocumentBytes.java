package io.deltasync.server.wire;

import com.google.protobuf.InvalidProtocolBufferException;
import io.deltasync.v1.Change;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.WatchChangesResponse;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.InputStream;

/**
 * Pages whose documents travel as wire bytes: the stream's catch-up and initial-state reads carry each document as
 * the entity's unknown field under the document's own field number ({@code store.DocumentWire}), which every
 * protobuf parser reads as the document. Such a message must leave the server as protobuf bytes: gRPC's protobuf
 * marshaller hands an in-process client the very message object, whose {@code getData()} is empty, and a JSON
 * printer skips unknown fields. So the Sync and WatchChanges marshallers serialize these messages into one array
 * (protobuf's array encoder, faster than its stream encoder) and send the array, on every transport, and the HTTP
 * port's JSON printer is given the message as parsed back from its bytes ({@link #expanded}).
 */
public final class DocumentBytes {
  private DocumentBytes() {}

  /** Whether {@code message} (a SyncResponse or WatchChangesResponse) carries documents as wire bytes. */
  static boolean carried(Object message) {
    if (message instanceof WatchChangesResponse watch) {
      return watch.hasEvent() && carried(watch.getEvent());
    }
    if (!(message instanceof SyncResponse sync) || !sync.hasChanges()) {
      return false;
    }
    for (Change change : sync.getChanges().getChangesList()) {
      if (!change.getEntity().getUnknownFields().asMap().isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /** The message's bytes, framed by gRPC by their known length. */
  static InputStream stream(com.google.protobuf.MessageLite message) {
    return new ByteArrayInputStream(message.toByteArray());
  }

  /**
   * {@code message} with its documents as ordinary fields, for a printer that does not write unknown fields (the
   * HTTP port's JSON): parsed back from its bytes if it carries documents as bytes, else itself.
   */
  @SuppressWarnings("unchecked")
  public static <T> T expanded(T message) {
    if (!carried(message)) {
      return message;
    }
    try {
      com.google.protobuf.MessageLite lite = (com.google.protobuf.MessageLite) message;
      // The server built this message itself (documents at most 32 levels deep), so protobuf's default nesting
      // limit (100), which a deep document inside a wrapper message reaches, is no guard here.
      com.google.protobuf.CodedInputStream in = lite.toByteString().newCodedInput();
      in.setRecursionLimit(1_000);
      return (T) lite.getParserForType().parseFrom(in);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a page's own bytes do not parse: " + e.getMessage(), e);
    }
  }

  /** {@code generated}, sending a message that carries documents as bytes as one array. */
  static <R> MethodDescriptor.PrototypeMarshaller<R> marshaller(MethodDescriptor.PrototypeMarshaller<R> generated) {
    return new MethodDescriptor.PrototypeMarshaller<>() {
      @Override
      public InputStream stream(R value) {
        return carried(value) ? DocumentBytes.stream((com.google.protobuf.MessageLite) value)
            : generated.stream(value);
      }

      @Override
      public R parse(InputStream stream) {
        return generated.parse(stream);
      }

      @Override
      public R getMessagePrototype() {
        return generated.getMessagePrototype();
      }

      @Override
      public Class<R> getMessageClass() {
        return generated.getMessageClass();
      }
    };
  }
}

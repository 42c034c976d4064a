package io.deltasync.server.write;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.UnknownFieldSet;
import java.util.Optional;

/**
 * Marks a request message (or one delta of it) that arrived but could not be parsed, so that the layer that owns
 * the answer can give it: the validator rejects an unparseable delta alone, the Sync session answers with a
 * SyncError, a unary call ends with INVALID_ARGUMENT. gRPC only lets a marshaller return a message of the method's
 * type (and ends the call with UNKNOWN when it throws), so the mark travels inside that message, as an unknown
 * field with the highest field number protobuf allows, which no .proto of ours will ever use. A client that sends
 * that field itself only gets its own text back as an error.
 */
public final class ParseFailure {
  private static final int FIELD = 536_870_911;

  private ParseFailure() {}

  /** {@code builder} (usually empty, or holding what could be salvaged) marked with why it could not be parsed. */
  public static <B extends Message.Builder> B mark(B builder, String problem) {
    builder.mergeUnknownFields(UnknownFieldSet.newBuilder()
        .addField(FIELD, UnknownFieldSet.Field.newBuilder().addLengthDelimited(ByteString.copyFromUtf8(problem))
            .build())
        .build());
    return builder;
  }

  /** Why the message could not be parsed, if it is a stand-in for one that could not. */
  public static Optional<String> of(MessageOrBuilder message) {
    UnknownFieldSet unknown = message.getUnknownFields();
    if (!unknown.hasField(FIELD)) {
      return Optional.empty();
    }
    var values = unknown.getField(FIELD).getLengthDelimitedList();
    return Optional.of(values.isEmpty() ? "the message could not be parsed" : values.getLast().toStringUtf8());
  }
}

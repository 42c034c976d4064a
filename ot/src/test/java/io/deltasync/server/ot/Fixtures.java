package io.deltasync.server.ot;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.v1.EditOperation;
import java.util.ArrayList;
import java.util.List;

/** JSON in and out of tests, through protobuf's JSON mapping: the same text a client would send. */
final class Fixtures {
  private Fixtures() {}

  static Struct struct(String json) {
    Struct.Builder builder = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, builder);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not a JSON object: " + json, e);
    }
    return builder.build();
  }

  /** Edits from a JSON array of {@code EditOperation} messages. */
  static List<Edit> edits(String jsonArray) throws InvalidOperationException {
    Struct wrapper = struct("{\"edits\": " + jsonArray + "}");
    List<EditOperation> operations = new ArrayList<>();
    try {
      for (var value : wrapper.getFieldsOrThrow("edits").getListValue().getValuesList()) {
        EditOperation.Builder builder = EditOperation.newBuilder();
        JsonFormat.parser().merge(JsonFormat.printer().print(value), builder);
        operations.add(builder.build());
      }
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("not a JSON array of EditOperation: " + jsonArray, e);
    }
    return OperationCodec.fromProto(operations);
  }

  static String json(Struct struct) {
    try {
      return JsonFormat.printer().omittingInsignificantWhitespace().print(struct);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Edits as compact JSON, for failure messages. */
  static String json(List<Edit> edits) {
    List<String> parts = new ArrayList<>();
    for (EditOperation operation : OperationCodec.toProto(edits)) {
      try {
        parts.add(JsonFormat.printer().omittingInsignificantWhitespace().print(operation));
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException(e);
      }
    }
    return "[" + String.join(",", parts) + "]";
  }
}

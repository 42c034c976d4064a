package io.deltasync.server.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import org.jooq.JSONB;

/** Converts between protobuf {@link Struct} (the wire form of documents) and PostgreSQL jsonb. */
public final class Json {
  /**
   * The deepest a document may nest (see {@link #depth}): the validator's limit for data, the database's guard
   * (V6), and the most the server delivers. protobuf parsers refuse messages nested past 100 levels by default, each
   * level of a Struct costs three, and a SyncResponse holds the document four messages deep, so a client can parse
   * 32 levels and not many more.
   */
  public static final int MAX_DEPTH = 32;

  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  private Json() {}

  /**
   * The JSON text of a document.
   *
   * @throws IllegalArgumentException if the document holds a value JSON cannot represent (NaN, Infinity, or a
   *     value with no kind set)
   */
  public static String toJson(Struct document) {
    try {
      return PRINTER.print(document);
    } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * The document stored as jsonb.
   *
   * @throws IllegalStateException if it cannot be read as a {@link Struct}: not an object (data is checked since
   *     V1, conflict_data since V6, but rows written before V6 may hold anything), or nested deeper than the parser
   *     goes. Callers that deliver rows convert them one by one and deliver such a row degraded.
   */
  public static Struct toStruct(JSONB json) {
    if (json == null) {
      return Struct.getDefaultInstance();
    }
    Struct.Builder builder = Struct.newBuilder();
    try {
      PARSER.merge(json.data(), builder);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new IllegalStateException("stored document cannot be read as a JSON object: " + e.getMessage(), e);
    }
    return builder.build();
  }

  /**
   * How deeply a document nests, counted as the documented limit counts (README, "Limits"): a flat object is 1, each
   * object or list inside adds 1.
   */
  public static int depth(Struct document) {
    int deepest = 0;
    for (Value value : document.getFieldsMap().values()) {
      deepest = Math.max(deepest, depth(value));
    }
    return 1 + deepest;
  }

  private static int depth(Value value) {
    return switch (value.getKindCase()) {
      case STRUCT_VALUE -> depth(value.getStructValue());
      case LIST_VALUE -> {
        int deepest = 0;
        for (Value element : value.getListValue().getValuesList()) {
          deepest = Math.max(deepest, depth(element));
        }
        yield 1 + deepest;
      }
      default -> 0;
    };
  }
}

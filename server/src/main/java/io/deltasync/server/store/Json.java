package io.deltasync.server.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import org.jooq.JSONB;

/** Converts between protobuf {@link Struct} (the wire form of documents) and PostgreSQL jsonb. */
public final class Json {
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

  /** The document stored as jsonb (an object; enforced by a check constraint). */
  public static Struct toStruct(JSONB json) {
    if (json == null) {
      return Struct.getDefaultInstance();
    }
    Struct.Builder builder = Struct.newBuilder();
    try {
      PARSER.merge(json.data(), builder);
    } catch (InvalidProtocolBufferException e) {
      // Only reachable if someone stored a non-object by bypassing the check constraint.
      throw new IllegalStateException("stored document is not a JSON object: " + e.getMessage(), e);
    }
    return builder.build();
  }
}

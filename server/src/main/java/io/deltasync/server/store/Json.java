package io.deltasync.server.store;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
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

  // Deeper documents are refused while parsing; Rows refuses those past MAX_DEPTH after it.
  static final JsonFactory READER = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(100).maxStringLength(Integer.MAX_VALUE)
          .maxNameLength(Integer.MAX_VALUE).maxNumberLength(Integer.MAX_VALUE).build())
      .build();
  private static final Value TRUE = Value.newBuilder().setBoolValue(true).build();
  private static final Value FALSE = Value.newBuilder().setBoolValue(false).build();
  private static final Value NULL = Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
  // 2^63: every integral double below it in magnitude is exactly a long.
  private static final double LONG_RANGE = 0x1p63;

  private Json() {}

  /**
   * The JSON text of a document. Integral numbers are written as integers ({@code 1}, not {@code 1.0}): protobuf's
   * JsonFormat prints every number as a double, and other services reading the jsonb with
   * {@code (data->>'n')::int} then fail. Our own printer rather than JsonFormat's, because JsonFormat has no option
   * for it; rather than Jackson, because these twenty lines are all it takes.
   *
   * @throws IllegalArgumentException if the document holds a value JSON cannot represent (NaN, Infinity, or a
   *     value with no kind set)
   */
  public static String toJson(Struct document) {
    StringBuilder out = new StringBuilder(64);
    writeObject(document, out);
    return out.toString();
  }

  private static void writeObject(Struct struct, StringBuilder out) {
    out.append('{');
    boolean first = true;
    for (Map.Entry<String, Value> field : struct.getFieldsMap().entrySet()) {
      if (!first) {
        out.append(',');
      }
      first = false;
      writeString(field.getKey(), out);
      out.append(':');
      writeValue(field.getValue(), out);
    }
    out.append('}');
  }

  private static void writeList(ListValue list, StringBuilder out) {
    out.append('[');
    for (int i = 0; i < list.getValuesCount(); i++) {
      if (i > 0) {
        out.append(',');
      }
      writeValue(list.getValues(i), out);
    }
    out.append(']');
  }

  private static void writeValue(Value value, StringBuilder out) {
    switch (value.getKindCase()) {
      case NULL_VALUE -> out.append("null");
      case BOOL_VALUE -> out.append(value.getBoolValue());
      case STRING_VALUE -> writeString(value.getStringValue(), out);
      case NUMBER_VALUE -> writeNumber(value.getNumberValue(), out);
      case STRUCT_VALUE -> writeObject(value.getStructValue(), out);
      case LIST_VALUE -> writeList(value.getListValue(), out);
      case KIND_NOT_SET -> throw new IllegalArgumentException("a value with no kind set has no JSON form");
    }
  }

  /** An integral double is printed exactly as an integer; any other finite number as Java's shortest repr. */
  static void writeNumber(double number, StringBuilder out) {
    if (Double.isNaN(number) || Double.isInfinite(number)) {
      throw new IllegalArgumentException("the number " + number + " has no JSON form");
    }
    if (number == Math.rint(number) && Math.abs(number) < LONG_RANGE) {
      out.append((long) number);
    } else {
      out.append(number);  // "1.5", "1.0E300", "1.0E-7": all valid JSON numbers
    }
  }

  private static void writeString(String text, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
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
    // Jackson's streaming parser straight into the builders: protobuf's JsonFormat (over Gson) builds a tree first
    // and merges it field by field through descriptors, and was the largest cost of reading a page of the change
    // log (docs/performance.md, "Fifth pass"). Same result for every document jsonb holds (JsonTest compares them).
    try (JsonParser parser = READER.createParser(json.data())) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new IllegalStateException("not a JSON object");
      }
      // jsonb text is one value: what could follow it is not read (JsonFormat did not either).
      return readObject(parser);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("stored document cannot be read as a JSON object: " + e.getMessage(), e);
    }
  }

  /** Reads an object's members; the parser is at its START_OBJECT, and is left at its END_OBJECT. */
  private static Struct readObject(JsonParser parser) throws IOException {
    Struct.Builder struct = Struct.newBuilder();
    String name;
    while ((name = parser.nextFieldName()) != null) {
      parser.nextToken();
      struct.putFields(name, readValue(parser));
    }
    return struct.build();
  }

  private static Value readValue(JsonParser parser) throws IOException {
    return switch (parser.currentToken()) {
      case START_OBJECT -> Value.newBuilder().setStructValue(readObject(parser)).build();
      case START_ARRAY -> {
        ListValue.Builder list = ListValue.newBuilder();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          list.addValues(readValue(parser));
        }
        yield Value.newBuilder().setListValue(list).build();
      }
      case VALUE_STRING -> Value.newBuilder().setStringValue(parser.getText()).build();
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> Value.newBuilder().setNumberValue(number(parser)).build();
      case VALUE_TRUE -> TRUE;
      case VALUE_FALSE -> FALSE;
      case VALUE_NULL -> NULL;
      default -> throw new IllegalStateException("unexpected " + parser.currentToken());
    };
  }

  /** As JsonFormat reads a number into a Value: the nearest double (past a double's range, an infinity). */
  static double number(JsonParser parser) throws IOException {
    double value = parser.getDoubleValue();
    // Jackson reads "-0" as the integer 0; JsonFormat parses the text (-0.0).
    return value == 0 ? Double.parseDouble(parser.getText()) : value;
  }

  /**
   * The document exactly as {@link #toStruct} reads it back after it was stored as jsonb from {@link #toJson}: what
   * the result of a write that stored the delta's own document carries, built without the round trip through the
   * database (issue 11, fifth part). Three things differ from the document as sent: jsonb keeps an object's keys
   * sorted (shorter first, then bytewise in UTF-8), {@code -0} is stored as {@code 0}, and the Struct read back has
   * none of the sent messages' unknown fields and the one null value. Numbers are otherwise the same doubles ({@link
   * #toJson} prints each one exactly, and every numeric jsonb equal to it reads back as the same double), strings
   * are the same (a document holding U+0000, which jsonb refuses, is never stored). {@code WrittenAsSentIT} holds
   * this to the database's own answer.
   *
   * @throws IllegalArgumentException for a value with no kind set (the validator refuses such documents)
   */
  public static Struct asStored(Struct document) {
    Map<String, Value> fields = document.getFieldsMap();
    Struct.Builder stored = Struct.newBuilder();
    if (fields.size() <= 1) {
      fields.forEach((key, value) -> stored.putFields(key, asStored(value)));
      return stored.build();
    }
    String[] keys = fields.keySet().toArray(new String[0]);
    Arrays.sort(keys, Json::jsonbKeyOrder);
    for (String key : keys) {
      stored.putFields(key, asStored(fields.get(key)));
    }
    return stored.build();
  }

  /**
   * Whether {@link #asStored} is what this document reads back as once stored. Not for a document holding a number
   * of {@value #AS_STORED_LIMIT} or more in magnitude: jsonb prints such a number with all its integer digits, and
   * protobuf's JSON parser, which {@link #toStruct} used when this was written, read a number of 66 or more integer
   * digits back as a string. {@link #toStruct} now reads them as numbers (Jackson's parser); the limit is kept as a
   * precaution (such writes store and read back their whole entity, as before), not because it is still needed.
   */
  public static boolean asStoredApplies(Struct document) {
    for (Value value : document.getFieldsMap().values()) {
      if (!asStoredApplies(value)) {
        return false;
      }
    }
    return true;
  }

  /** See {@link #asStoredApplies(Struct)}. */
  static final double AS_STORED_LIMIT = 1e50;

  private static boolean asStoredApplies(Value value) {
    return switch (value.getKindCase()) {
      case NUMBER_VALUE -> Math.abs(value.getNumberValue()) < AS_STORED_LIMIT;
      case STRUCT_VALUE -> asStoredApplies(value.getStructValue());
      case LIST_VALUE -> {
        for (Value element : value.getListValue().getValuesList()) {
          if (!asStoredApplies(element)) {
            yield false;
          }
        }
        yield true;
      }
      case KIND_NOT_SET -> false;
      default -> true;
    };
  }

  private static Value asStored(Value value) {
    return switch (value.getKindCase()) {
      case NULL_VALUE -> NULL;
      case BOOL_VALUE -> Value.newBuilder().setBoolValue(value.getBoolValue()).build();
      // -0.0 == 0 is true: both are stored as 0, which reads back as +0.0
      case NUMBER_VALUE -> Value.newBuilder().setNumberValue(value.getNumberValue() == 0 ? 0.0
          : value.getNumberValue()).build();
      case STRING_VALUE -> Value.newBuilder().setStringValue(value.getStringValue()).build();
      case STRUCT_VALUE -> Value.newBuilder().setStructValue(asStored(value.getStructValue())).build();
      case LIST_VALUE -> {
        ListValue.Builder list = ListValue.newBuilder();
        for (Value element : value.getListValue().getValuesList()) {
          list.addValues(asStored(element));
        }
        yield Value.newBuilder().setListValue(list).build();
      }
      case KIND_NOT_SET -> throw new IllegalArgumentException("a value with no kind set has no JSON form");
    };
  }

  /** The order of keys in a jsonb object: shorter first (in UTF-8 bytes), then bytewise (PostgreSQL's jsonb). */
  static int jsonbKeyOrder(String a, String b) {
    if (isAscii(a) && isAscii(b)) {
      // One byte per char, and ASCII chars compare as their bytes.
      return a.length() != b.length() ? Integer.compare(a.length(), b.length()) : a.compareTo(b);
    }
    byte[] x = a.getBytes(StandardCharsets.UTF_8);
    byte[] y = b.getBytes(StandardCharsets.UTF_8);
    return x.length != y.length ? Integer.compare(x.length, y.length) : Arrays.compareUnsigned(x, y);
  }

  private static boolean isAscii(String text) {
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
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

package io.deltasync.server.store;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A stored document's jsonb text straight to the wire bytes of the {@code google.protobuf.Struct} that {@link
 * Json#toStruct} reads from it, in one pass of Jackson's streaming parser: no {@code Struct}, {@code Value} or map
 * entry objects are built, and the message that carries the bytes does not walk a tree again to size and serialize
 * it (docs/performance.md, "Eighth pass: catch-up"). The bytes parse to exactly the Struct the tree path builds
 * ({@code DocumentWireTest}): the same parser with the same limits, the same double for every number ({@link
 * Json#number}), the same strings.
 *
 * <p>It applies only where the tree path would deliver the document: it answers null for text that is not a JSON
 * object, text the parser refuses, or a document nested deeper than {@link Json#MAX_DEPTH}, and the caller then
 * takes the tree path, which degrades such a row exactly as before.
 *
 * <p>Written by hand rather than with protobuf's {@code CodedOutputStream}: a nested message's length comes before its
 * bytes, and one pass over the JSON does not know it yet; here each length gets one byte up front and the rare longer
 * length moves the message's bytes along. Not thread-safe: one instance per read.
 */
final class DocumentWire {
  // google.protobuf.Struct: map<string, Value> fields = 1 (each entry: string key = 1, Value value = 2).
  // google.protobuf.Value: null_value = 1 (varint), number_value = 2 (fixed64), string_value = 3, bool_value = 4
  // (varint), struct_value = 5, list_value = 6. google.protobuf.ListValue: repeated Value values = 1.
  private static final byte STRUCT_FIELD = (1 << 3) | 2;
  private static final byte ENTRY_KEY = (1 << 3) | 2;
  private static final byte ENTRY_VALUE = (2 << 3) | 2;
  private static final byte NULL_VALUE = (1 << 3);
  private static final byte NUMBER_VALUE = (2 << 3) | 1;
  private static final byte STRING_VALUE = (3 << 3) | 2;
  private static final byte BOOL_VALUE = (4 << 3);
  private static final byte STRUCT_VALUE = (5 << 3) | 2;
  private static final byte LIST_VALUE = (6 << 3) | 2;
  private static final byte LIST_ELEMENT = (1 << 3) | 2;

  // Kept between the documents of one read, shrunk back after a very large one.
  private static final int KEPT_CAPACITY = 64 * 1024;
  private byte[] buffer = new byte[1024];
  private int position;
  private int depth;

  /** A transcoder for one thread's use (one per read: {@link BoundedReads}). */
  DocumentWire() {}

  /** Thrown inside when the tree path must decide (too deep, an unexpected token). */
  private static final class NotApplicable extends Exception {
    NotApplicable() {
      super(null, null, false, false);
    }
  }

  private static final NotApplicable NOT_APPLICABLE = new NotApplicable();

  /**
   * The wire bytes of the Struct {@link Json#toStruct} reads from {@code jsonbText} (no tag, no length: the fields of
   * the message), or null where this does not apply (see the class comment) and the tree path must run.
   */
  ByteString struct(String jsonbText) {
    position = 0;
    depth = 0;
    try (JsonParser parser = Json.READER.createParser(jsonbText)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      // jsonb text is one value: what could follow it is not read (Json.toStruct does not either).
      writeObject(parser);
      return ByteString.copyFrom(buffer, 0, position);
    } catch (IOException | RuntimeException | NotApplicable e) {
      return null;
    } finally {
      if (buffer.length > KEPT_CAPACITY) {
        buffer = new byte[1024];
      }
    }
  }

  /**
   * An entity's unknown fields carrying its documents as wire bytes under their own field numbers, which every
   * protobuf parser reads as the fields themselves ({@code data = 4}, {@code conflict_data = 10}).
   */
  static UnknownFieldSet documents(ByteString data, int dataField, ByteString conflictData, int conflictField) {
    UnknownFieldSet.Builder fields = UnknownFieldSet.newBuilder();
    if (data != null) {
      fields.addField(dataField, UnknownFieldSet.Field.newBuilder().addLengthDelimited(data).build());
    }
    if (conflictData != null) {
      fields.addField(conflictField, UnknownFieldSet.Field.newBuilder().addLengthDelimited(conflictData).build());
    }
    return fields.build();
  }

  /** The members of an object; the parser is at its START_OBJECT and is left at its END_OBJECT. */
  private void writeObject(JsonParser parser) throws IOException, NotApplicable {
    enter();
    String name;
    while ((name = parser.nextFieldName()) != null) {
      writeByte(STRUCT_FIELD);
      int entry = open();
      writeByte(ENTRY_KEY);
      writeString(name);
      writeByte(ENTRY_VALUE);
      int value = open();
      parser.nextToken();
      writeValue(parser);
      close(value);
      close(entry);
    }
    depth--;
  }

  /** One Value's fields for the parser's current token. */
  private void writeValue(JsonParser parser) throws IOException, NotApplicable {
    switch (parser.currentToken()) {
      case START_OBJECT -> {
        writeByte(STRUCT_VALUE);
        int struct = open();
        writeObject(parser);
        close(struct);
      }
      case START_ARRAY -> {
        writeByte(LIST_VALUE);
        int list = open();
        enter();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          writeByte(LIST_ELEMENT);
          int element = open();
          writeValue(parser);
          close(element);
        }
        depth--;
        close(list);
      }
      case VALUE_STRING -> {
        writeByte(STRING_VALUE);
        writeString(parser.getText());
      }
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
        writeByte(NUMBER_VALUE);
        writeFixed64(Double.doubleToRawLongBits(Json.number(parser)));
      }
      case VALUE_TRUE -> {
        writeByte(BOOL_VALUE);
        writeByte((byte) 1);
      }
      case VALUE_FALSE -> {
        writeByte(BOOL_VALUE);
        writeByte((byte) 0);
      }
      case VALUE_NULL -> {
        writeByte(NULL_VALUE);
        writeByte((byte) 0);
      }
      default -> throw NOT_APPLICABLE;
    }
  }

  private void enter() throws NotApplicable {
    if (++depth > Json.MAX_DEPTH) {
      // The tree path reads the whole document to say how deep it nests, and degrades the row.
      throw NOT_APPLICABLE;
    }
  }

  /** Reserves one byte for a length; returns where it is. */
  private int open() {
    ensure(1);
    return position++;
  }

  /** Writes the length of what follows {@code at}, moving those bytes along if it takes more than one byte. */
  private void close(int at) {
    int length = position - at - 1;
    if (length < 0x80) {
      buffer[at] = (byte) length;
      return;
    }
    int size = varintSize(length);
    ensure(size - 1);
    System.arraycopy(buffer, at + 1, buffer, at + size, length);
    position += size - 1;
    int i = at;
    int value = length;
    while ((value & ~0x7f) != 0) {
      buffer[i++] = (byte) ((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    buffer[i] = (byte) value;
  }

  private static int varintSize(int value) {
    return value < 1 << 7 ? 1 : value < 1 << 14 ? 2 : value < 1 << 21 ? 3 : value < 1 << 28 ? 4 : 5;
  }

  private void writeByte(byte b) {
    ensure(1);
    buffer[position++] = b;
  }

  private void writeFixed64(long bits) {
    ensure(8);
    for (int i = 0; i < 8; i++) {
      buffer[position++] = (byte) (bits >>> (8 * i));
    }
  }

  /**
   * A length-prefixed UTF-8 string, exactly as protobuf writes a Java string: its encoder falls back to {@code
   * String.getBytes(UTF_8)} for a string with a lone surrogate (written as '?'), and that is what is used here for
   * every string (the JDK's encoder copies an ASCII string's bytes in one go).
   */
  private void writeString(String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    writeLength(utf8.length);
    ensure(utf8.length);
    System.arraycopy(utf8, 0, buffer, position, utf8.length);
    position += utf8.length;
  }

  private void writeLength(int length) {
    ensure(5);
    int value = length;
    while ((value & ~0x7f) != 0) {
      buffer[position++] = (byte) ((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    buffer[position++] = (byte) value;
  }

  private void ensure(int more) {
    if (position + more > buffer.length) {
      buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, position + more));
    }
  }
}

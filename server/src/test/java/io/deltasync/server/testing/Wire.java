package io.deltasync.server.testing;

import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Hand-encoded protobuf, the way a client in another language may put it on the wire: no generated Java classes,
 * no parse limits, no UTF-8 check. Field numbers are those of proto/deltasync/v1/*.proto.
 */
public final class Wire {
  /** A gRPC marshaller of raw bytes: messages sent and received exactly as they are on the wire. */
  public static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  /** A new, empty message. */
  public static Wire message() {
    return new Wire();
  }

  /** A string field holding exactly these bytes (which need not be UTF-8). */
  public Wire bytes(int field, byte[] value) {
    tag(field, 2);
    varint(value.length);
    out.writeBytes(value);
    return this;
  }

  /** A string field. */
  public Wire string(int field, String value) {
    return bytes(field, value.getBytes(StandardCharsets.UTF_8));
  }

  /** A nested message field. */
  public Wire message(int field, Wire value) {
    return bytes(field, value.toByteArray());
  }

  /** A varint field (int64, enum, bool). */
  public Wire varint(int field, long value) {
    tag(field, 0);
    varint(value);
    return this;
  }

  /** The encoded message. */
  public byte[] toByteArray() {
    return out.toByteArray();
  }

  private void tag(int field, int wireType) {
    varint(((long) field << 3) | wireType);
  }

  private void varint(long value) {
    while ((value & ~0x7FL) != 0) {
      out.write((int) ((value & 0x7F) | 0x80));
      value >>>= 7;
    }
    out.write((int) value);
  }

  /**
   * A google.protobuf.Struct nested {@code depth} levels ({@code depth} = 1 is a flat object), counted the way
   * the server's documented limit counts them: {"n": {"n": ... {"leaf": "x"}}}.
   */
  public static Wire nestedDocument(int depth) {
    Wire struct = message().message(1, message().string(1, "leaf").message(2, message().string(3, "x")));
    for (int level = 2; level <= depth; level++) {
      // Struct.fields (1) is a map entry {key = 1, value = 2}; Value.struct_value is field 5.
      struct = message().message(1, message().string(1, "n").message(2, message().message(5, struct)));
    }
    return struct;
  }

  /** A deltasync.v1.Delta creating note/{id} in scope "team-a" with {@code data}. */
  public static Wire createDelta(String deltaId, String entityId, Wire data) {
    return message().string(1, deltaId).string(2, "note").string(3, entityId).string(4, "team-a")
        .varint(5, 1).message(8, data);
  }
}

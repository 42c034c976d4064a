package io.deltasync.reliability;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.Delta;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PathElement;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncAck;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.TextComponent;
import io.deltasync.v1.TextEdit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Random;
import java.util.UUID;

/**
 * A seeded generator of malformed and hostile protobuf bytes for Push and Sync: random bytes, bit flips and cuts of
 * valid messages, Struct nesting past protobuf's recursion limit, invalid UTF-8 in string fields (hand-encoded:
 * protobuf-java refuses to build it), unknown enum values, huge strings, bad cursors and bad edits. Jazzer
 * (com.code-intelligence:jazzer-junit) is not in this machine's package lists, so the suite brings its own generator;
 * every input is reproducible from the seed.
 */
final class FuzzInputs {
  private final Random random;
  private final String clientId;

  FuzzInputs(long seed, String clientId) {
    this.random = new Random(seed);
    this.clientId = clientId;
  }

  /** One Push request body. */
  byte[] push() {
    return switch (random.nextInt(9)) {
      case 0 -> randomBytes(random.nextInt(64));
      case 1 -> flip(validPush().toByteArray());
      case 2 -> cut(validPush().toByteArray());
      case 3 -> PushRequest.newBuilder().setClientId(clientId).addDeltas(validDelta().setData(deep(40 + random
          .nextInt(200)))).build().toByteArray();
      case 4 -> invalidUtf8Push();
      case 5 -> PushRequest.newBuilder().setClientId(clientId).addDeltas(validDelta()
          .setOperationValue(4 + random.nextInt(1000)).setConflictPolicyValue(6 + random.nextInt(1000))).build()
          .toByteArray();
      case 6 -> PushRequest.newBuilder().setClientId(clientId).addDeltas(validDelta()
          .setEntityId("x".repeat(1 + random.nextInt(300_000)))).build().toByteArray();
      case 7 -> PushRequest.newBuilder().setClientId(clientId).addDeltas(validDelta()
          .setOperation(Operation.OPERATION_UPDATE).addEdits(badEdit())).build().toByteArray();
      default -> PushRequest.newBuilder().setClientId(clientId).addDeltas(wrongDelta()).build().toByteArray();
    };
  }

  /** One message on a Sync stream (after or instead of a hello). */
  byte[] syncMessage() {
    return switch (random.nextInt(7)) {
      case 0 -> randomBytes(random.nextInt(64));
      case 1 -> flip(validHello().toByteArray());
      case 2 -> SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId)
          .setCursor(new String(randomBytes(random.nextInt(40)), java.nio.charset.StandardCharsets.ISO_8859_1)))
          .build().toByteArray();
      case 3 -> SyncRequest.newBuilder().setAck(SyncAck.newBuilder().setCursor("not-a-cursor-" + random.nextInt()))
          .build().toByteArray();
      case 4 -> SyncRequest.newBuilder().setPush(SyncPush.newBuilder().setBatchId("b")
          .addDeltas(validDelta().setData(deep(40 + random.nextInt(200))))).build().toByteArray();
      case 5 -> SyncRequest.newBuilder().setPush(SyncPush.newBuilder().setBatchId("b").addDeltas(wrongDelta()))
          .build().toByteArray();
      default -> cut(SyncRequest.newBuilder().setPush(SyncPush.newBuilder().addDeltas(validDelta())).build()
          .toByteArray());
    };
  }

  SyncRequest validHello() {
    return SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId)).build();
  }

  PushRequest validPush() {
    return PushRequest.newBuilder().setClientId(clientId).addDeltas(validDelta()).build();
  }

  private Delta.Builder validDelta() {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("fuzz")
        .setEntityId("f" + random.nextInt(50)).setScope("fuzz").setOperation(Operation.OPERATION_CREATE)
        .setData(Struct.newBuilder().putFields("n", Value.newBuilder().setStringValue("v" + random.nextInt())
            .build()));
  }

  /** Semantically wrong: missing ids, negative versions, data on a delete, NaN numbers, empty keys. */
  private Delta wrongDelta() {
    Delta.Builder delta = validDelta();
    switch (random.nextInt(7)) {
      case 0 -> delta.clearDeltaId();
      case 1 -> delta.setBaseRowVersion(-1 - random.nextInt(1000)).setOperation(Operation.OPERATION_UPDATE);
      case 2 -> delta.clearEntityType();
      case 3 -> delta.setScope("");
      case 4 -> delta.setOperation(Operation.OPERATION_UNSPECIFIED);
      case 5 -> delta.setData(Struct.newBuilder().putFields("", Value.newBuilder().setNumberValue(Double.NaN)
          .build()));
      default -> delta.setData(Struct.newBuilder().putFields("n", Value.newBuilder().setNumberValue(
          Double.POSITIVE_INFINITY).build()));
    }
    return delta.build();
  }

  private EditOperation badEdit() {
    return EditOperation.newBuilder()
        .addPath(PathElement.newBuilder().setIndex(random.nextInt(5) - 2))
        .setText(TextEdit.newBuilder().addComponents(TextComponent.newBuilder().setRetain(random.nextInt(1_000_000)
            - 500)).addComponents(TextComponent.newBuilder().setDelete(random.nextInt(100) - 50)))
        .build();
  }

  private static Struct deep(int depth) {
    Struct struct = Struct.newBuilder().putFields("leaf", Value.newBuilder().setBoolValue(true).build()).build();
    for (int i = 0; i < depth; i++) {
      struct = Struct.newBuilder().putFields("d", Value.newBuilder().setStructValue(struct).build()).build();
    }
    return struct;
  }

  /** A PushRequest whose client_id or a delta's delta_id is not UTF-8, encoded by hand. */
  private byte[] invalidUtf8Push() {
    byte[] bad = {(byte) 0xC3, (byte) 0x28, (byte) 0xFF, (byte) 0xFE, 'a'};
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      if (random.nextBoolean()) {
        out.writeByteArray(PushRequest.CLIENT_ID_FIELD_NUMBER, bad);
        out.writeMessage(PushRequest.DELTAS_FIELD_NUMBER, validDelta().build());
      } else {
        out.writeString(PushRequest.CLIENT_ID_FIELD_NUMBER, clientId);
        ByteArrayOutputStream delta = new ByteArrayOutputStream();
        CodedOutputStream d = CodedOutputStream.newInstance(delta);
        d.writeByteArray(Delta.DELTA_ID_FIELD_NUMBER, bad);
        d.writeString(Delta.ENTITY_TYPE_FIELD_NUMBER, "fuzz");
        d.writeByteArray(Delta.ENTITY_ID_FIELD_NUMBER, bad);
        d.writeString(Delta.SCOPE_FIELD_NUMBER, "fuzz");
        d.writeEnum(Delta.OPERATION_FIELD_NUMBER, Operation.OPERATION_CREATE_VALUE);
        d.flush();
        out.writeBytes(PushRequest.DELTAS_FIELD_NUMBER, ByteString.copyFrom(delta.toByteArray()));
      }
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private byte[] randomBytes(int n) {
    byte[] bytes = new byte[n];
    random.nextBytes(bytes);
    return bytes;
  }

  private byte[] flip(byte[] valid) {
    if (valid.length == 0) {
      return valid;
    }
    for (int i = 1 + random.nextInt(4); i > 0; i--) {
      valid[random.nextInt(valid.length)] ^= (byte) (1 << random.nextInt(8));
    }
    return valid;
  }

  private byte[] cut(byte[] valid) {
    return java.util.Arrays.copyOf(valid, random.nextInt(Math.max(1, valid.length)));
  }
}

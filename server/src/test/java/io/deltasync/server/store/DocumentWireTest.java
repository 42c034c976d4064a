package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.Change;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.jooq.JSONB;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/**
 * The transcoder from jsonb text to Struct wire bytes ({@link DocumentWire}) gives, for every document the tree path
 * ({@link Json#toStruct} and the depth check) delivers, bytes that parse to exactly that Struct (numbers bit for bit,
 * -0 included), and declines every document the tree path refuses, so that the row takes the tree path and is
 * degraded as before. And a whole change read by the stream's reads ({@link Rows#change(String, String, String,
 * String, long, String, String, String, String, boolean, OffsetDateTime, String, OffsetDateTime, String, String,
 * String, String) the driver's strings}) serializes to bytes that parse to the change Pull's jOOQ path builds.
 */
class DocumentWireTest {
  private static final DocumentWire WIRE = new DocumentWire();
  private static final String EDITS = Rows.editsJson(List.of(io.deltasync.v1.EditOperation.newBuilder()
      .addPath(io.deltasync.v1.PathElement.newBuilder().setKey("t"))
      .setObjectUnset(io.deltasync.v1.ObjectUnset.getDefaultInstance()).build()));

  /** The data-fidelity corpus: numbers, strings, nesting, and text jsonb prints or could print. */
  static List<String> corpus() {
    List<String> documents = new ArrayList<>(List.of(
        "{}", "{\"a\": 1}", "{\"a\": 1.0}", "{\"a\": 1.00}", "{\"a\": -0}", "{\"a\": -0.0}", "{\"a\": 0}",
        "{\"a\": 0.0}", "{\"a\": 1e5}", "{\"a\": 1E-5}", "{\"a\": 1.5e300}", "{\"a\": 1e400}", "{\"a\": -1e400}",
        "{\"a\": 1e-400}", "{\"a\": -1e-400}", "{\"a\": 12345678901234567890123}", "{\"a\": 9007199254740993}",
        "{\"a\": -9223372036854775808}", "{\"a\": 18446744073709551616}", "{\"a\": 0.1}",
        "{\"a\": 3.141592653589793238462643383279}", "{\"a\": 100.000}", "{\"a\": 4.9e-324}",
        "{\"a\": 1" + "0".repeat(400) + "}", "{\"a\": 0." + "0".repeat(330) + "1}",
        "{\"a\": null, \"b\": true, \"c\": false, \"d\": \"\"}", "{\"a\": [], \"b\": {}, \"c\": [[], [{}]]}",
        "{\"\": \"\", \"  \": [null, null]}",
        "{\"\\u00e9t\\u00e9\": \"\\ud83d\\udc4b \\\"q\\\" \\\\ \\n \\t \\u0007 \\/\"}",
        "{\"é\": \"漢字 \uD83D\uDC4B ünïcødé\", \"\u007f\": \"\u0080\u07ff\u0800\uffff\"}",
        "{\"a\":1,\"b\":[1,2,{\"c\":[true,false,null]}]}", "{\"b\": 1, \"a\": 2, \"aa\": 3}",
        "{\"long\": \"" + "x".repeat(200) + "\", \"longer\": \"" + "é".repeat(20_000) + "\"}",
        "{\"nested\": {\"list\": [" + "\"" + "y".repeat(300) + "\", ".repeat(50) + "1]}}",
        // not an object, not JSON, or more than one value: the tree path decides
        "[]", "[1, 2]", "1", "\"text\"", "null", "true", "", "{", "{\"a\": }", "{\"a\": 1} trailing", "{\"a\": NaN}",
        // lone surrogates, which jsonb refuses: written as protobuf writes them ('?')
        "{\"a\": \"\\ud800\"}", "{\"a\": \"x\\udc00y\"}", "{\"\\ud83d\": 1}"));
    // Nesting at, just past, and far past the limit (32 levels), in objects and lists; past the parser's 100.
    for (int levels : new int[] {31, 32, 33, 34, 99, 100, 101, 150}) {
      documents.add("{\"n\": ".repeat(levels - 1) + "{}" + "}".repeat(levels - 1));
      documents.add("{\"l\": " + "[".repeat(levels - 1) + "]".repeat(levels - 1) + "}");
      documents.add("{\"m\": " + "[{\"k\": ".repeat((levels - 1) / 2) + "1" + "}]".repeat((levels - 1) / 2) + "}");
    }
    // A huge document: 2 MiB of fields, lengths of every varint size.
    StringBuilder huge = new StringBuilder("{");
    for (int i = 0; i < 2_000; i++) {
      huge.append(i == 0 ? "" : ", ").append("\"f").append(i).append("\": {\"t\": \"").append("z".repeat(i))
          .append("\", \"n\": ").append(i * 1.5).append('}');
    }
    documents.add(huge.append('}').toString());
    documents.add("{\"big\": \"" + "w".repeat(3 * 1024 * 1024) + "\"}");
    return documents;
  }

  /** What the tree path delivers for {@code json}: the Struct, or null where it refuses the row (degraded). */
  private static Struct byTree(String json) {
    try {
      Struct struct = Json.toStruct(JSONB.valueOf(json));
      return Json.depth(struct) > Json.MAX_DEPTH ? null : struct;
    } catch (RuntimeException | StackOverflowError e) {
      return null;
    }
  }

  private static void assertSameAsTree(String json, String as) throws InvalidProtocolBufferException {
    Struct tree = byTree(json);
    ByteString wire = WIRE.struct(json);
    if (tree == null) {
      assertThat(wire).as("declined: %s", as).isNull();
      return;
    }
    assertThat(wire).as("transcoded: %s", as).isNotNull();
    Struct parsed = Struct.parseFrom(wire);
    // As a client receives the tree path's Struct (a lone surrogate, which jsonb refuses, goes out as '?').
    Struct sent = Struct.parseFrom(tree.toByteArray());
    assertThat(parsed).as(as).isEqualTo(sent);
    // Numbers bit for bit (Value.equals compares doubles by their bits as well; this says which one differs).
    assertThat(numbers(parsed, new ArrayList<>())).as(as).isEqualTo(numbers(sent, new ArrayList<>()));
    // And the whole message as the tree path would send it: same size, so the page budget is unchanged.
    assertThat(wire.size()).as(as).isEqualTo(tree.getSerializedSize());
  }

  private static List<Long> numbers(Struct struct, List<Long> out) {
    struct.getFieldsMap().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
        .forEach(e -> numbers(e.getValue(), out));
    return out;
  }

  private static void numbers(Value value, List<Long> out) {
    switch (value.getKindCase()) {
      case NUMBER_VALUE -> out.add(Double.doubleToRawLongBits(value.getNumberValue()));
      case STRUCT_VALUE -> numbers(value.getStructValue(), out);
      case LIST_VALUE -> value.getListValue().getValuesList().forEach(v -> numbers(v, out));
      default -> { }
    }
  }

  @Test
  void theCorpusParsesToWhatTheTreePathBuildsOrTakesTheTreePath() throws Exception {
    List<String> corpus = corpus();
    for (int i = 0; i < corpus.size(); i++) {
      String json = corpus.get(i);
      assertSameAsTree(json, "corpus #" + i + ": " + json.substring(0, Math.min(json.length(), 120)));
    }
  }

  @Test
  void declinesWhatTheTreePathRefuses() {
    assertThat(WIRE.struct("[1]")).isNull();
    assertThat(WIRE.struct("{\"a\": ")).isNull();
    assertThat(WIRE.struct("{\"n\": ".repeat(32) + "{}" + "}".repeat(32))).as("33 levels").isNull();
    assertThat(WIRE.struct("{\"n\": ".repeat(31) + "{}" + "}".repeat(31))).as("32 levels")
        .isNotNull();
    // and the transcoder is usable after each (its buffer is reset)
    assertThat(WIRE.struct("{\"a\": 1}")).isEqualTo(byTree("{\"a\": 1}").toByteString());
  }

  /** Seeded random documents, printed as jsonb prints them (with its spacing) and compactly. */
  @Test
  void randomDocumentsParseToWhatTheTreePathBuilds() throws Exception {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    for (int i = 0; i < 2_000; i++) {
      String json = Json.toJson(randomStruct(random, random.nextInt(6)));
      if (random.nextBoolean()) {
        json = json.replace(":", ": ").replace(",", ", ");  // jsonb's spacing (also inside strings: still JSON)
      }
      assertSameAsTree(json, "seed " + seed + ", document " + i + ": " + json);
    }
  }

  /** A change-log row as the stream's reads build it, against the same row as Pull's jOOQ path builds it. */
  @Test
  void aWholeChangeParsesToTheChangeTheTreePathBuilds() throws Exception {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    // The corpus but its two multi-MiB documents (the document tests above cover them), then random ones.
    List<String> documents = new ArrayList<>(corpus().stream().filter(d -> d.length() < 100_000).toList());
    for (int i = 0; i < 200; i++) {
      documents.add(Json.toJson(randomStruct(random, 3)));
    }
    OffsetDateTime at = OffsetDateTime.of(2026, 12, 1, 23, 30, 0, 123_456_000, ZoneOffset.UTC);
    int i = 0;
    for (String data : documents) {
      for (String conflict : new String[] {null, documents.get((i * 7 + 3) % documents.size())}) {
        for (boolean deleted : new boolean[] {false, true}) {
          String operation = deleted ? "delete" : i % 2 == 0 ? "create" : "update";
          String edits = i % 7 == 0 ? EDITS : null;
          Change byDriver = null;
          RuntimeException driverFailure = null;
          try {
            byDriver = Rows.change("s", "note", "id" + i, operation, i + 1L, "etag", data, "synced", conflict,
                deleted, at, "me", at, i % 3 == 0 ? null : "c", i % 3 == 0 ? null : "d" + i, edits, "cursor" + i, WIRE);
          } catch (RuntimeException e) {
            driverFailure = e;
          }
          Record row = DSL.using(SQLDialect.POSTGRES).newRecord(CHANGE_LOG);
          row.set(CHANGE_LOG.SCOPE, "s");
          row.set(CHANGE_LOG.ENTITY_TYPE, "note");
          row.set(CHANGE_LOG.ENTITY_ID, "id" + i);
          row.set(CHANGE_LOG.OPERATION, operation);
          row.set(CHANGE_LOG.ROW_VERSION, i + 1L);
          row.set(CHANGE_LOG.ETAG, "etag");
          row.set(CHANGE_LOG.DATA, JSONB.valueOf(data));
          row.set(CHANGE_LOG.SYNC_STATUS, "synced");
          row.set(CHANGE_LOG.CONFLICT_DATA, conflict == null ? null : JSONB.valueOf(conflict));
          row.set(CHANGE_LOG.IS_DELETED, deleted);
          row.set(CHANGE_LOG.LAST_MODIFIED_AT, at);
          row.set(CHANGE_LOG.LAST_MODIFIED_BY, "me");
          row.set(CHANGE_LOG.CREATED_AT, at);
          row.set(CHANGE_LOG.CLIENT_ID, i % 3 == 0 ? null : "c");
          row.set(CHANGE_LOG.DELTA_ID, i % 3 == 0 ? null : "d" + i);
          row.set(CHANGE_LOG.EDITS, edits == null ? null : JSONB.valueOf(edits));
          Change byTree;
          try {
            byTree = Rows.change(row).toBuilder().setCursor("cursor" + i).build();
          } catch (RuntimeException e) {
            // A row the server cannot carry: the same failure (its message is the degraded change's), both ways.
            assertThat(driverFailure).as("seed %d, row %d", seed, i).isNotNull();
            assertThat(driverFailure.getMessage()).isEqualTo(e.getMessage());
            i++;
            continue;
          }
          assertThat(driverFailure).as("seed %d, row %d", seed, i).isNull();
          // As the client receives each (a lone surrogate, which jsonb refuses, goes out as '?' either way).
          assertThat(Change.parseFrom(byDriver.toByteArray())).as("seed %d, row %d", seed, i)
              .isEqualTo(Change.parseFrom(byTree.toByteArray()));
          assertThat(byDriver.getSerializedSize()).as("seed %d, row %d", seed, i)
              .isEqualTo(byTree.getSerializedSize());
          i++;
        }
      }
    }
  }

  /** A change too large to send, without its documents: the wire-carried documents go too. */
  @Test
  void aChangeWithoutDocumentsCarriesNone() throws Exception {
    Change change = Rows.change("s", "note", "id", "update", 2, "etag", "{\"a\": \"x\"}", "synced",
        "{\"b\": 1}", false, OffsetDateTime.now(ZoneOffset.UTC), "me", OffsetDateTime.now(ZoneOffset.UTC), "c",
        "d", null, "cursor", WIRE);
    assertThat(Change.parseFrom(change.toByteArray()).getEntity().hasData()).isTrue();
    Change without = Rows.withoutDocuments(change, com.google.rpc.Status.newBuilder().setCode(8).build());
    Change parsed = Change.parseFrom(without.toByteArray());
    assertThat(parsed.getEntity().hasData()).isFalse();
    assertThat(parsed.getEntity().hasConflictData()).isFalse();
    assertThat(parsed.getEntity().getUnknownFields().asMap()).isEmpty();
  }

  static Struct randomStruct(Random random, int depth) {
    Struct.Builder struct = Struct.newBuilder();
    int fields = random.nextInt(6);
    for (int i = 0; i < fields; i++) {
      struct.putFields(randomText(random, 6), randomValue(random, depth));
    }
    return struct.build();
  }

  private static String randomText(Random random, int maxLength) {
    StringBuilder text = new StringBuilder();
    for (int i = random.nextInt(maxLength + 1); i > 0; i--) {
      int kind = random.nextInt(10);
      text.appendCodePoint(kind < 5 ? 0x20 + random.nextInt(0x5f) : kind < 7 ? random.nextInt(0x20) + 1
          : kind < 8 ? 0x80 + random.nextInt(0x780) : kind < 9 ? 0x800 + random.nextInt(0xd000)
          : 0x10000 + random.nextInt(0x10000));
    }
    return text.toString();
  }

  private static Value randomValue(Random random, int depth) {
    return switch (random.nextInt(depth > 0 ? 9 : 6)) {
      case 0 -> Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
      case 1 -> Value.newBuilder().setBoolValue(random.nextBoolean()).build();
      case 2 -> Value.newBuilder().setNumberValue(random.nextInt(2_000_001) - 1_000_000).build();
      case 3 -> Value.newBuilder().setNumberValue(switch (random.nextInt(4)) {
        case 0 -> random.nextDouble() * 1000;
        case 1 -> Double.longBitsToDouble(random.nextLong() & 0x7fefffffffffffffL);
        case 2 -> -Double.longBitsToDouble(random.nextLong() & 0x7fefffffffffffffL);
        default -> (double) random.nextLong();
      }).build();
      case 4 -> Value.newBuilder().setStringValue(randomText(random, 40)).build();
      case 5 -> Value.newBuilder().setStringValue(randomText(random, 300)).build();
      case 6, 7 -> Value.newBuilder().setStructValue(randomStruct(random, depth - 1)).build();
      default -> {
        ListValue.Builder list = ListValue.newBuilder();
        for (int i = random.nextInt(5); i > 0; i--) {
          list.addValues(randomValue(random, depth - 1));
        }
        yield Value.newBuilder().setListValue(list).build();
      }
    };
  }
}

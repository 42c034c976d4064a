package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.List;
import java.util.Random;
import org.jooq.JSONB;
import org.junit.jupiter.api.Test;

/** The JSON printer: integers stay integers, everything round-trips through the parser. */
class JsonTest {
  private static Value number(double n) {
    return Value.newBuilder().setNumberValue(n).build();
  }

  private static String print(Value value) {
    return Json.toJson(Struct.newBuilder().putFields("v", value).build());
  }

  @Test
  void integralNumbersArePrintedAsIntegers() {
    assertThat(print(number(1))).isEqualTo("{\"v\":1}");
    assertThat(print(number(-40))).isEqualTo("{\"v\":-40}");
    assertThat(print(number(-0.0))).isEqualTo("{\"v\":0}");
    assertThat(print(number(9007199254740992d))).isEqualTo("{\"v\":9007199254740992}");
    assertThat(print(number(0x1p62))).isEqualTo("{\"v\":4611686018427387904}");
    assertThat(print(number(2.5))).isEqualTo("{\"v\":2.5}");
    assertThat(print(number(1e300))).isEqualTo("{\"v\":1.0E300}");
  }

  @Test
  void nonFiniteNumbersAndUnsetValuesHaveNoJsonForm() {
    assertThatThrownBy(() -> print(number(Double.NaN))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> print(number(Double.POSITIVE_INFINITY))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> print(Value.getDefaultInstance())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void stringsAreEscaped() {
    String text = "quote \" backslash \\ newline \n tab \t bell \u0007 emoji \uD83D\uDC4B \u00e9";
    String json = print(Value.newBuilder().setStringValue(text).build());
    assertThat(json).contains("\\u0007").doesNotContain("\n");
    assertThat(Json.toStruct(JSONB.valueOf(json)).getFieldsOrThrow("v").getStringValue()).isEqualTo(text);
  }

  /** Seeded random documents print to JSON that parses back to the same document. */
  @Test
  void randomDocumentsRoundTrip() {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    for (int i = 0; i < 500; i++) {
      Struct document = randomStruct(random, 3);
      assertThat(Json.toStruct(JSONB.valueOf(Json.toJson(document)))).as("seed %d", seed).isEqualTo(document);
    }
  }

  private static Struct randomStruct(Random random, int depth) {
    Struct.Builder struct = Struct.newBuilder();
    int fields = random.nextInt(5);
    for (int i = 0; i < fields; i++) {
      struct.putFields("k" + random.nextInt(100) + (char) (random.nextInt(0x24f) + 1), randomValue(random, depth));
    }
    return struct.build();
  }

  private static Value randomValue(Random random, int depth) {
    return switch (random.nextInt(depth > 0 ? 8 : 5)) {
      case 0 -> Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
      case 1 -> Value.newBuilder().setBoolValue(random.nextBoolean()).build();
      case 2 -> number(random.nextInt(2_000_001) - 1_000_000);
      case 3 -> number(switch (random.nextInt(3)) {
        case 0 -> random.nextDouble() * 1000;
        case 1 -> Double.longBitsToDouble(random.nextLong() & 0x7fefffffffffffffL);
        default -> (double) random.nextLong();
      });
      case 4 -> Value.newBuilder().setStringValue(new String(Character.toChars(random.nextInt(0x2ffff) + 1)))
          .build();
      case 5, 6 -> Value.newBuilder().setStructValue(randomStruct(random, depth - 1)).build();
      default -> {
        ListValue.Builder list = ListValue.newBuilder();
        for (int i = random.nextInt(4); i > 0; i--) {
          list.addValues(randomValue(random, depth - 1));
        }
        yield Value.newBuilder().setListValue(list).build();
      }
    };
  }

  /** What the parser before this one (protobuf's JsonFormat) made of {@code json}, or null if it refused it. */
  private static Struct byJsonFormat(String json) {
    Struct.Builder builder = Struct.newBuilder();
    try {
      com.google.protobuf.util.JsonFormat.parser().merge(json, builder);
      return builder.build();
    } catch (com.google.protobuf.InvalidProtocolBufferException | RuntimeException e) {
      return null;
    }
  }

  private static Struct byToStruct(String json) {
    try {
      return Json.toStruct(JSONB.valueOf(json));
    } catch (IllegalStateException e) {
      return null;
    }
  }

  /**
   * jsonb prints a large number with all its integer digits (1e300 as "1" and 300 zeros). protobuf's JsonFormat read
   * a number of 66 or more such digits back as a string, so a document written with 1e300 was delivered with the
   * string "1000…"; the streaming parser reads the number.
   */
  @Test
  void aNumberPrintedWithAllItsDigitsIsReadAsANumber() {
    for (double n : new double[] {1e65, 1e300, -1.5e300, Double.MAX_VALUE}) {
      String digits = new java.math.BigDecimal(n).toPlainString();
      Value read = Json.toStruct(JSONB.valueOf("{\"n\": " + digits + "}")).getFieldsOrThrow("n");
      assertThat(read.getKindCase()).as(digits).isEqualTo(Value.KindCase.NUMBER_VALUE);
      assertThat(read.getNumberValue()).as(digits).isEqualTo(n);
    }
  }

  /**
   * The streaming parser reads every document as JsonFormat did (numbers to the nearest double, -0, numbers past a
   * double's range read as infinities, escapes, jsonb's own spacing), and refuses what is not a JSON object. (Only
   * JSON that jsonb can hold: JsonFormat's lenient Gson also took NaN, and ignored what followed the object.)
   */
  @Test
  void readsDocumentsAsJsonFormatDid() {
    java.util.List<String> documents = new java.util.ArrayList<>(java.util.List.of(
        "{}", "{\"a\": 1}", "{\"a\": -0}", "{\"a\": -0.0}", "{\"a\": 1.5e300}", "{\"a\": 1e400}",
        "{\"a\": -1e400}", "{\"a\": 1e-400}", "{\"a\": 12345678901234567890123}", "{\"a\": 9007199254740993}",
        "{\"a\": 0.1}", "{\"a\": 3.141592653589793238462643383279}", "{\"a\": 100.000}",
        "{\"a\": null, \"b\": true, \"c\": false, \"d\": \"\"}", "{\"a\": [], \"b\": {}, \"c\": [[], [{}]]}",
        "{\"\\u00e9t\\u00e9\": \"\\ud83d\\udc4b \\\"q\\\" \\\\ \\n \\t \\u0007 \\/\"}",
        "{\"a\": [1, \"two\", null, true, {\"x\": [3.25]}]}", "{\"long\": \"" + "y".repeat(100_000) + "\"}",
        "[]", "[1]", "1", "\"s\"", "null", "", "{"));
    for (int depth : new int[] {1, 2, 31, 32, 33, 40, 60, 98, 99, 100, 101, 120, 200}) {
      documents.add("{\"n\": ".repeat(depth) + "{}" + "}".repeat(depth));
      documents.add("{\"n\": " + "[".repeat(depth) + "1" + "]".repeat(depth) + "}");
    }
    long seed = System.nanoTime();
    Random random = new Random(seed);
    for (int i = 0; i < 300; i++) {
      // As PostgreSQL prints jsonb: a space after each ':' and ','.
      documents.add(Json.toJson(randomStruct(random, 4)).replace(",", ", ").replace(":", ": "));
    }
    for (String notAnObject : List.of("[]", "[1]", "1", "\"s\"", "null", "", "{")) {
      assertThat(byToStruct(notAnObject)).as(notAnObject).isNull();
    }
    for (String json : documents) {
      String shown = json.length() > 80 ? json.substring(0, 80) + "..." : json;
      Struct expected = byJsonFormat(json);
      Struct actual = byToStruct(json);
      if (expected == null || actual == null) {
        // Refused by one of them: only nesting past what Rows delivers (Json.MAX_DEPTH), which it refuses anyway.
        Struct read = expected == null ? actual : expected;
        if (read != null) {
          assertThat(Json.depth(read)).as("seed %d: %s", seed, shown).isGreaterThan(Json.MAX_DEPTH);
        }
      } else {
        assertThat(actual).as("seed %d: %s", seed, shown).isEqualTo(expected);
      }
    }
  }
}

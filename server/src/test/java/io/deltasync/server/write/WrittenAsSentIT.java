package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.UnknownFieldSet;
import com.google.protobuf.Value;
import io.deltasync.server.store.Json;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.PushRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.jooq.JSONB;
import org.jooq.Record;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A create or full replacement whose stored document is the delta's own keeps only the entity's metadata with its
 * claim (applied_delta.written_meta, V23), and neither the claim nor the write's answer goes through the stored
 * jsonb: the result's data is the delta's document as jsonb reads it back ({@link Json#asStored}). These tests hold
 * that answer, and every retry's, to the bytes the code before answered: the entity as read back from the database
 * (the row's data text through {@link Json#toStruct}, which is how the write's answer was built before V23), for
 * documents that jsonb stores differently from how they were sent (key order, -0, unknown fields and null values,
 * extreme numbers, unicode, empty and nested documents); and they check that writes whose stored data differs from
 * what was sent (numbers kept in their stored exact form, a deployment's trigger that changes data, conflicts
 * decided by a policy) still keep their document or result.
 */
class WrittenAsSentIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  private static Value number(double n) {
    return Value.newBuilder().setNumberValue(n).build();
  }

  private static Value text(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static Value object(Struct s) {
    return Value.newBuilder().setStructValue(s).build();
  }

  /** Documents jsonb stores differently from how they are sent, or at the edges of what it stores. */
  private static List<Struct> trickyDocuments() {
    List<Struct> documents = new ArrayList<>();
    documents.add(Struct.getDefaultInstance());
    // Keys out of jsonb's order (shorter first, then bytewise in UTF-8): longer first, and non-ASCII keys whose
    // UTF-16 order differs from their UTF-8 order (U+FF5E sorts after U+1F600 in UTF-8, before it in UTF-16).
    documents.add(Struct.newBuilder().putFields("zzz", number(1)).putFields("b", number(2)).putFields("aa", number(3))
        .putFields("\uFF5E", text("fullwidth tilde")).putFields("\uD83D\uDE00", text("emoji"))
        .putFields("é", text("two bytes")).putFields("Z", text("upper")).putFields("", text("empty key")).build());
    // Numbers at the edges: -0, the smallest doubles, integers beyond 2^53 and 2^63, fractions, exponents, and the
    // largest below Json.asStored's limit.
    Struct.Builder numbers = Struct.newBuilder();
    double[] values = {-0.0, 0.0, Double.MIN_VALUE, -Double.MIN_VALUE, Double.MIN_NORMAL, 0.1, 1e-7, 1e21,
        9007199254740993d, 0x1p63, -0x1p63, 0x1p64, 123456789012345678d, 1.5, -2.5e-300, 9.999999999999999e49,
        -9.999999999999999e49, 1.2345678901234567e-300};
    for (int i = 0; i < values.length; i++) {
      numbers.putFields("n" + (values.length - i), number(values[i]));
    }
    documents.add(numbers.build());
    // Numbers Json.asStored does not apply to (protobuf's JSON parser reads 66 integer digits back as a string): the
    // extremes of double. Their writes store and read back the document, as before.
    documents.add(Struct.newBuilder().putFields("max", number(Double.MAX_VALUE))
        .putFields("min", number(-Double.MAX_VALUE)).putFields("big", number(1e300))
        .putFields("edge", number(1e50)).build());
    // Unicode text, escapes, and a null value whose enum number is not NULL_VALUE's (a non-Java client may send
    // one: protobuf keeps the number, jsonb stores null).
    documents.add(Struct.newBuilder().putFields("s", text("quote \" backslash \\ newline \n tab \t bell \u0007 "
            + "emoji \uD83D\uDC4B é 中文 \u2028 \uFFFF"))
        .putFields("nulls", Value.newBuilder().setListValue(ListValue.newBuilder()
            .addValues(Value.newBuilder().setNullValue(NullValue.NULL_VALUE))
            .addValues(Value.newBuilder().setNullValueValue(7))).build())
        .putFields("t", Value.newBuilder().setBoolValue(true).build())
        .putFields("f", Value.newBuilder().setBoolValue(false).build()).build());
    // Nested objects and lists, empty ones included, with unknown fields in a nested message.
    Struct inner = Struct.newBuilder().putFields("y", number(-0.0)).putFields("x", object(Struct.getDefaultInstance()))
        .setUnknownFields(UnknownFieldSet.newBuilder().addField(99, UnknownFieldSet.Field.newBuilder()
            .addVarint(5).build()).build()).build();
    documents.add(Struct.newBuilder().putFields("outer", object(Struct.newBuilder().putFields("inner", object(inner))
            .putFields("list", Value.newBuilder().setListValue(ListValue.newBuilder().addValues(object(inner))
                .addValues(Value.newBuilder().setListValue(ListValue.getDefaultInstance()))).build()).build()))
        .build());
    // Deep: 32 levels (the limit), keys out of order at each.
    Struct deep = Struct.newBuilder().putFields("bb", number(1)).putFields("a", number(2)).build();
    for (int i = 1; i < 32; i++) {
      deep = Struct.newBuilder().putFields("level" + i, object(deep)).putFields("k", number(i)).build();
    }
    documents.add(deep);
    return documents;
  }

  private static Delta in(String scope, Delta delta) {
    return delta.toBuilder().setScope(scope).build();
  }

  private static List<DeltaResult> push(String clientId, List<Delta> deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build())
        .getResultsList();
  }

  /** The entity as the code before V23 answered it: the row read back, its data through Json.toStruct. */
  private static Entity readBack(String scope, String entityId) {
    Record row = server.sql().fetchOne("select data::text, row_version, etag, is_deleted from entity "
        + "where scope = ? and entity_type = 'note' and entity_id = ?", scope, entityId);
    Entity.Builder entity = Entity.newBuilder().setRowVersion(row.get(1, Long.class)).setEtag(row.get(2,
        String.class)).setIsDeleted(row.get(3, Boolean.class));
    if (!row.get(3, Boolean.class)) {
      entity.setData(Json.toStruct(JSONB.valueOf(row.get(0, String.class))));
    }
    return entity.build();
  }

  /** The first answer's entity carries exactly the bytes of the entity read back from the database. */
  private static void assertAnsweredAsStored(DeltaResult result, String scope) {
    assertThat(result.getStatus()).as("%s", result).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    Entity answered = result.getEntity();
    Entity stored = readBack(scope, answered.getEntityId());
    assertThat(answered.getRowVersion()).isEqualTo(stored.getRowVersion());
    assertThat(answered.getEtag()).isEqualTo(stored.getEtag());
    assertThat(answered.hasData()).isEqualTo(stored.hasData());
    assertThat(answered.getData().toByteString()).as("data bytes of %s", answered.getEntityId())
        .isEqualTo(stored.getData().toByteString());
  }

  /** Every retry answers the first answer's bytes (the replayed flag aside). */
  private static void assertReplayBytes(List<DeltaResult> first, List<DeltaResult> retried) {
    assertThat(retried).hasSameSizeAs(first);
    for (int i = 0; i < first.size(); i++) {
      assertThat(retried.get(i).getReplayed()).as("result %d replayed", i).isTrue();
      assertThat(retried.get(i).toBuilder().setReplayed(false).build().toByteString()).as("result %d bytes", i)
          .isEqualTo(first.get(i).toByteString());
    }
  }

  private static Map<String, Object> claim(String clientId, String deltaId) {
    Record row = server.sql().fetchOne("select result is not null, written_entity is not null, "
        + "written_meta is not null, coalesce(jsonb_exists(written_meta, 'data'), false) from applied_delta "
        + "where client_id = ? and delta_id = ?", clientId, deltaId);
    Map<String, Object> claim = new LinkedHashMap<>();
    claim.put("result", row.get(0));
    claim.put("written_entity", row.get(1));
    claim.put("written_meta", row.get(2));
    claim.put("meta holds data", row.get(3));
    return claim;
  }

  /** The claim a write of {@code sent} keeps when the stored document is the one sent. */
  private static Map<String, Object> asSent(Struct sent) {
    return Json.asStoredApplies(sent) ? metaOnly() : wholeEntity();
  }

  private static Map<String, Object> metaOnly() {
    return Map.of("result", false, "written_entity", false, "written_meta", true, "meta holds data", false);
  }

  private static Map<String, Object> wholeEntity() {
    return Map.of("result", false, "written_entity", true, "written_meta", false, "meta holds data", false);
  }

  /** jsonb's own answer, for random documents and the tricky ones: asStored is what jsonb reads back as. */
  @Test
  void asStoredIsWhatJsonbReadsBackAs() {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    List<Struct> documents = new ArrayList<>(trickyDocuments());
    for (int i = 0; i < 300; i++) {
      documents.add(randomStruct(random, 3));
    }
    assertThat(trickyDocuments()).filteredOn(document -> !Json.asStoredApplies(document)).as("excluded").hasSize(1);
    int checked = 0;
    for (Struct document : documents) {
      if (!Json.asStoredApplies(document)) {
        continue;
      }
      String stored = server.sql().fetchValue("select ?::jsonb::text", Json.toJson(document)).toString();
      assertThat(Json.asStored(document).toByteString()).as("seed %d, %s", seed, stored)
          .isEqualTo(Json.toStruct(JSONB.valueOf(stored)).toByteString());
      checked++;
    }
    assertThat(checked).as("documents checked (seed %d)", seed).isGreaterThan(150);
  }

  @Test
  void singleCreatesAndUpdatesAnswerTheStoredBytesAndKeepNoDocument() {
    String scope = "as-sent-single";
    List<Struct> documents = trickyDocuments();
    List<Delta> creates = new ArrayList<>();
    List<Delta> updates = new ArrayList<>();
    List<DeltaResult> first = new ArrayList<>();
    for (int i = 0; i < documents.size(); i++) {
      Delta created = in(scope, create("e" + i, documents.get(i)));
      creates.add(created);
      first.add(push("phone-1", List.of(created)).get(0));
      assertAnsweredAsStored(first.get(first.size() - 1), scope);
      // A full replacement by the next document (or the first).
      Delta updated = in(scope, update("e" + i, 1, documents.get((i + 1) % documents.size())));
      updates.add(updated);
      first.add(push("phone-1", List.of(updated)).get(0));
      assertAnsweredAsStored(first.get(first.size() - 1), scope);
    }
    for (Delta d : creates) {
      assertThat(claim("phone-1", d.getDeltaId())).as("claim of %s", d.getEntityId()).isEqualTo(asSent(d.getData()));
    }
    for (Delta d : updates) {
      assertThat(claim("phone-1", d.getDeltaId())).as("claim of %s", d.getEntityId()).isEqualTo(asSent(d.getData()));
    }
    // Another client moves every entity on, then each delta is retried alone and all of them in one batch.
    List<Delta> later = new ArrayList<>();
    for (int i = 0; i < documents.size(); i++) {
      later.add(in(scope, update("e" + i, 2, doc("v", "later"))));
    }
    push("phone-2", later);
    List<DeltaResult> retried = new ArrayList<>();
    for (int i = 0; i < creates.size(); i++) {
      retried.add(push("phone-1", List.of(creates.get(i))).get(0));
      retried.add(push("phone-1", List.of(updates.get(i))).get(0));
    }
    assertReplayBytes(first, retried);
    List<Delta> all = new ArrayList<>();
    for (int i = 0; i < creates.size(); i++) {
      all.add(creates.get(i));
      all.add(updates.get(i));
    }
    assertReplayBytes(first, push("phone-1", all));
  }

  @Test
  void setBasedCreatesUpdatesAndDeletesAnswerTheStoredBytesAndKeepNoDocument() {
    String scope = "as-sent-batch";
    List<Struct> documents = trickyDocuments();
    List<Delta> creates = new ArrayList<>();
    for (int i = 0; i < documents.size(); i++) {
      creates.add(in(scope, create("e" + i, documents.get(i))));
    }
    List<DeltaResult> created = push("phone-b", creates);
    created.forEach(result -> assertAnsweredAsStored(result, scope));
    List<Delta> writes = new ArrayList<>();
    for (int i = 0; i < documents.size(); i++) {
      writes.add(i == 0 ? in(scope, delete("e0", 1))
          : in(scope, update("e" + i, 1, documents.get((i + 1) % documents.size()))));
    }
    List<DeltaResult> written = push("phone-b", writes);
    written.forEach(result -> assertAnsweredAsStored(result, scope));
    assertThat(written.get(0).getEntity().getIsDeleted()).isTrue();
    for (Delta d : creates) {
      assertThat(claim("phone-b", d.getDeltaId())).as("claim of create %s", d.getEntityId())
          .isEqualTo(asSent(d.getData()));
    }
    for (Delta d : writes) {
      assertThat(claim("phone-b", d.getDeltaId())).as("claim of %s", d.getEntityId())
          .isEqualTo(d.getOperation() == io.deltasync.v1.Operation.OPERATION_DELETE ? metaOnly() : asSent(d.getData()));
    }
    assertThat(server.sql().fetchValue("select count(*) from applied_delta where client_id = 'phone-b' and "
        + "jsonb_exists(written_meta, 'data')")).isEqualTo(0L);

    push("phone-2", List.of(in(scope, update("e1", 2, doc("v", "later"))),
        in(scope, create("e0", doc("v", "again")).toBuilder().setBaseRowVersion(2).build())));
    assertReplayBytes(created, push("phone-b", creates));
    assertReplayBytes(written, push("phone-b", writes));
    // One at a time (the single-delta path reads what the set-based statement stored).
    assertReplayBytes(List.of(created.get(1), written.get(0), written.get(2)),
        List.of(push("phone-b", List.of(creates.get(1))).get(0), push("phone-b", List.of(writes.get(0))).get(0),
            push("phone-b", List.of(writes.get(2))).get(0)));
  }

  /**
   * A number kept in its stored exact form (deltasync_keep_exact) makes the stored document differ from the one
   * sent: the claim keeps the whole entity, and the answer is the stored document, as before.
   */
  @Test
  void keptExactNumbersStoreTheDocument() {
    String scope = "as-sent-exact";
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) values (?, 'note', 'x', ?::jsonb), "
        + "(?, 'note', 'y', ?::jsonb)", scope, "{\"n\": 12345678901234567891, \"m\": 1}", scope,
        "{\"n\": 12345678901234567891}");
    Struct sent = Struct.newBuilder().putFields("n", number(12345678901234567891d)).putFields("m", number(2))
        .build();
    Delta single = in(scope, update("x", 1, sent));
    DeltaResult first = push("phone-x", List.of(single)).get(0);
    assertAnsweredAsStored(first, scope);
    List<Delta> batch = List.of(in(scope, update("y", 1, sent)), in(scope, create("z", sent)));
    List<DeltaResult> firstBatch = push("phone-x", batch);
    firstBatch.forEach(result -> assertAnsweredAsStored(result, scope));
    assertThat(server.sql().fetchValue("select data->>'n' from entity where scope = ? and entity_id = 'x'", scope))
        .as("kept exactly").isEqualTo("12345678901234567891");
    assertThat(claim("phone-x", single.getDeltaId())).isEqualTo(wholeEntity());
    assertThat(claim("phone-x", batch.get(0).getDeltaId())).isEqualTo(wholeEntity());
    assertThat(claim("phone-x", batch.get(1).getDeltaId())).as("a create stores what it was sent")
        .isEqualTo(metaOnly());
    push("phone-2", List.of(in(scope, update("x", 2, doc("v", "later"))), in(scope, update("y", 2,
        doc("v", "later")))));
    assertReplayBytes(List.of(first), push("phone-x", List.of(single)));
    assertReplayBytes(firstBatch, push("phone-x", batch));
  }

  /**
   * Whether a write stored its document as sent is the database's verdict on the row it wrote, not an assumption:
   * a deployment's own trigger that changes data makes the claim keep the whole entity, and the answer carries the
   * changed document.
   */
  @Test
  void aTriggerThatChangesTheDocumentStoresTheDocument() {
    String scope = "as-sent-trigger";
    server.sql().execute("""
        create function test_add_stamp() returns trigger language plpgsql as $$
        begin
          if NEW.scope = 'as-sent-trigger' then NEW.data := NEW.data || jsonb_build_object('stamped', true); end if;
          return NEW;
        end $$""");
    server.sql().execute("create trigger zz_test_add_stamp before insert or update on entity for each row "
        + "execute function test_add_stamp()");
    try {
      Delta single = in(scope, create("s", doc("v", "1")));
      DeltaResult first = push("phone-t", List.of(single)).get(0);
      assertAnsweredAsStored(first, scope);
      assertThat(first.getEntity().getData().getFieldsMap()).containsKey("stamped");
      List<Delta> batch = List.of(in(scope, create("a", doc("v", "1"))), in(scope, update("s", 1, doc("v", "2"))));
      List<DeltaResult> firstBatch = push("phone-t", batch);
      firstBatch.forEach(result -> assertAnsweredAsStored(result, scope));
      assertThat(firstBatch.get(1).getEntity().getData().getFieldsMap()).containsKey("stamped");
      for (Delta d : List.of(single, batch.get(0), batch.get(1))) {
        assertThat(claim("phone-t", d.getDeltaId())).as("claim of %s", d.getEntityId()).isEqualTo(wholeEntity());
      }
      assertReplayBytes(List.of(first), push("phone-t", List.of(single)));
      assertReplayBytes(firstBatch, push("phone-t", batch));
    } finally {
      server.sql().execute("drop trigger zz_test_add_stamp on entity");
      server.sql().execute("drop function test_add_stamp()");
    }
  }

  /** A conflict decided by the policy stores its serialized result, not the entity. */
  @Test
  void aConflictDecidedByThePolicyStoresItsResult() {
    String scope = "as-sent-conflict";
    push("phone-c", List.of(in(scope, create("c", doc("v", "1")))));
    push("phone-2", List.of(in(scope, update("c", 1, doc("v", "2")))));
    Delta stale = in(scope, update("c", 1, doc("v", "3")));
    DeltaResult first = push("phone-c", List.of(stale)).get(0);
    assertThat(first.getStatus()).isNotEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(claim("phone-c", stale.getDeltaId())).isEqualTo(Map.of("result", true, "written_entity", false,
        "written_meta", false, "meta holds data", false));
    assertReplayBytes(List.of(first), push("phone-c", List.of(stale)));
  }

  private static Struct randomStruct(Random random, int depth) {
    Struct.Builder struct = Struct.newBuilder();
    int fields = random.nextInt(6);
    for (int i = 0; i < fields; i++) {
      String key = random.nextBoolean() ? "k" + random.nextInt(1000)
          : new String(Character.toChars(randomCodePoint(random))) + random.nextInt(10);
      struct.putFields(key, randomValue(random, depth));
    }
    return struct.build();
  }

  private static int randomCodePoint(Random random) {
    int c;
    do {
      c = random.nextInt(0x2ffff) + 1;
    } while (c >= Character.MIN_SURROGATE && c <= Character.MAX_SURROGATE);
    return c;
  }

  private static Value randomValue(Random random, int depth) {
    return switch (random.nextInt(depth > 0 ? 8 : 5)) {
      case 0 -> Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
      case 1 -> Value.newBuilder().setBoolValue(random.nextBoolean()).build();
      case 2 -> number(random.nextInt(2_000_001) - 1_000_000);
      case 3 -> number(switch (random.nextInt(4)) {
        case 0 -> random.nextDouble() * 1000;
        case 1 -> Double.longBitsToDouble(random.nextLong() & 0x7fefffffffffffffL);
        case 2 -> -Double.longBitsToDouble(random.nextLong() & 0x7fefffffffffffffL);
        default -> (double) random.nextLong();
      });
      case 4 -> text(new String(Character.toChars(randomCodePoint(random))) + "x");
      case 5, 6 -> object(randomStruct(random, depth - 1));
      default -> {
        ListValue.Builder list = ListValue.newBuilder();
        for (int i = random.nextInt(4); i > 0; i--) {
          list.addValues(randomValue(random, depth - 1));
        }
        yield Value.newBuilder().setListValue(list).build();
      }
    };
  }
}

package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.ResolveConflictRequest;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Documents keep their numbers as written, seen the way other services see them: through plain SQL on the entity
 * table. Integral numbers pushed by clients are stored as integers, and a value nobody touched (here an integer
 * beyond 2^53, which no double holds, written by plain SQL) survives every kind of server-side write byte for byte.
 */
class ExactNumbersIT {
  private static final String SCOPE = "numbers";
  private static final String BIG = "9007199254740993";  // 2^53 + 1: a client only ever sees 9007199254740992

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static Struct json(String json) {
    Struct.Builder document = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, document);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return document.build();
  }

  private static List<EditOperation> edits(String jsonArray) {
    Change.Builder holder = Change.newBuilder();
    try {
      JsonFormat.parser().merge("{\"edits\": " + jsonArray + "}", holder);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return holder.getEditsList();
  }

  private static DeltaResult push(String client, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  private static Delta.Builder delta(String id, Operation operation, long base) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("item").setEntityId(id)
        .setScope(SCOPE).setOperation(operation).setBaseRowVersion(base);
  }

  /** What a plain-SQL reader gets for {@code expression} (over the row's columns) of item/{id}. */
  private static String select(String expression, String id) {
    return server.sql().resultQuery("select (" + expression + ")::text from entity where scope = ? and "
        + "entity_type = 'item' and entity_id = ?", SCOPE, id).fetchSingle().get(0, String.class);
  }

  /** Another service writes the document with plain SQL; returns the row_version. */
  private static long plainSqlWrite(String id, String documentJson) {
    return server.sql().resultQuery("insert into entity (scope, entity_type, entity_id, data) values (?, 'item', ?, "
        + "?::jsonb) on conflict (scope, entity_type, entity_id) do update set data = excluded.data "
        + "returning row_version", SCOPE, id, documentJson).fetchSingle().get(0, Long.class);
  }

  private static long plainSqlSetField(String id, String field, String valueJson) {
    return server.sql().resultQuery("update entity set data = data || jsonb_build_object(?::text, ?::jsonb) "
        + "where scope = ? and entity_type = 'item' and entity_id = ? returning row_version", field, valueJson,
        SCOPE, id).fetchSingle().get(0, Long.class);
  }

  @Test
  void integralNumbersArePushedAsIntegersThatOtherServicesCanCast() {
    DeltaResult created = push("phone", delta("qty", Operation.OPERATION_CREATE, 0)
        .setData(json("{\"qty\": 1, \"price\": 2.5, \"n\": -40, \"list\": [3, 4.25], \"deep\": {\"k\": 7}}"))
        .build());
    assertThat(created.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

    assertThat(select("(data->>'qty')::int", "qty")).isEqualTo("1");
    assertThat(select("data->'qty'", "qty")).isEqualTo("1");
    assertThat(select("data->'n'", "qty")).isEqualTo("-40");
    assertThat(select("data->'price'", "qty")).isEqualTo("2.5");
    assertThat(select("data->'list'", "qty")).isEqualTo("[3, 4.25]");
    assertThat(select("data->'deep'->'k'", "qty")).isEqualTo("7");
    // The change log (what Pull and the stream serve, and what history readers see) holds the same text.
    assertThat(server.sql().resultQuery("select (data->>'qty')::int from change_log where entity_id = 'qty'")
        .fetchSingle().get(0, Integer.class)).isEqualTo(1);
  }

  @Test
  void aFieldLevelMergeOfNoteKeepsAnUntouchedBigIntegerExactly() {
    long base = plainSqlWrite("lww", "{\"big\": " + BIG + ", \"note\": \"a\"}");
    plainSqlSetField("lww", "other", "1");  // another service moves the entity on: the client's push conflicts
    Struct seen = server.sync().pull(io.deltasync.v1.PullRequest.newBuilder().addScopes(SCOPE).build())
        .getChangesList().stream().filter(c -> c.getEntity().getEntityId().equals("lww")).findFirst().orElseThrow()
        .getEntity().getData();
    // The client edits note in the copy it has (its big is the double nearest to BIG) and pushes the document.
    Struct mine = seen.toBuilder().putFields("note", com.google.protobuf.Value.newBuilder().setStringValue("b")
        .build()).removeFields("other").build();

    DeltaResult result = push("phone", delta("lww", Operation.OPERATION_UPDATE, base).setData(mine)
        .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS).build());

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(result.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(result.getResolution().getClientFieldsList()).containsExactly("note");
    assertThat(select("data->'big'", "lww")).isEqualTo(BIG);
    assertThat(select("data->>'note'", "lww")).isEqualTo("b");
    assertThat(select("data->'other'", "lww")).isEqualTo("1");
    // Nor is the untouched field's clock moved to the client, as if it had written it.
    assertThat(select("field_clocks->'big'->>'c'", "lww")).isNotEqualTo("phone");
  }

  @Test
  void aWholeDocumentUpdateKeepsAnUntouchedBigIntegerExactly() {
    long base = plainSqlWrite("whole", "{\"big\": " + BIG + ", \"note\": \"a\"}");
    Struct mine = json("{\"big\": " + BIG + ", \"note\": \"b\"}");  // parsed as a double, as every client does

    DeltaResult result = push("phone", delta("whole", Operation.OPERATION_UPDATE, base).setData(mine).build());

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(select("data", "whole")).isEqualTo("{\"big\": " + BIG + ", \"note\": \"b\"}");
  }

  @Test
  void anArrayInsertKeepsTheUntouchedBigIntegersAroundItExactly() {
    long base = plainSqlWrite("list", "{\"ids\": [" + BIG + ", 1, " + BIG + "], \"n\": " + BIG + "}");
    DeltaResult inserted = push("alice", delta("list", Operation.OPERATION_UPDATE, base)
        .addAllEdits(edits("[{\"path\": [{\"key\": \"ids\"}], \"arrayInsert\": {\"index\": 1, "
            + "\"values\": [2]}}]")).build());
    assertThat(inserted.getStatus()).as(inserted.getError().getMessage()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(select("data", "list")).isEqualTo("{\"n\": " + BIG + ", \"ids\": [" + BIG + ", 2, 1, " + BIG + "]}");
    DeltaResult removed = push("alice", delta("list", Operation.OPERATION_UPDATE, base + 1)
        .addAllEdits(edits("[{\"path\": [{\"key\": \"ids\"}], \"arrayRemove\": {\"index\": 1, "
            + "\"count\": 2}}]")).build());
    assertThat(removed.getStatus()).as(removed.getError().getMessage()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(select("data", "list")).isEqualTo("{\"n\": " + BIG + ", \"ids\": [" + BIG + ", " + BIG + "]}");
  }

  @Test
  void textEditsOfNoteKeepAnUntouchedBigIntegerExactly() {
    long base = plainSqlWrite("ot", "{\"big\": " + BIG + ", \"note\": \"a\"}");
    DeltaResult atBase = push("alice", delta("ot", Operation.OPERATION_UPDATE, base)
        .addAllEdits(edits("[{\"path\": [{\"key\": \"note\"}], \"text\": {\"components\": "
            + "[{\"retain\": 1}, {\"insert\": \"b\"}]}}]")).build());
    assertThat(atBase.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(select("data", "ot")).isEqualTo("{\"big\": " + BIG + ", \"note\": \"ab\"}");

    // A second client's edit from the same base is merged by operational transform against alice's.
    DeltaResult merged = push("bob", delta("ot", Operation.OPERATION_UPDATE, base)
        .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM)
        .addAllEdits(edits("[{\"path\": [{\"key\": \"note\"}], \"text\": {\"components\": "
            + "[{\"insert\": \"c\"}]}}]")).build());
    assertThat(merged.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(merged.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(select("data", "ot")).isEqualTo("{\"big\": " + BIG + ", \"note\": \"cab\"}");
  }

  @Test
  void takingTheClientsSideOfAQueuedConflictKeepsAnUntouchedBigIntegerExactly() {
    long base = plainSqlWrite("manual", "{\"big\": " + BIG + ", \"note\": \"a\"}");
    plainSqlSetField("manual", "note", "\"by another service\"");
    DeltaResult queued = push("phone", delta("manual", Operation.OPERATION_UPDATE, base)
        .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL)
        .setData(json("{\"big\": " + BIG + ", \"note\": \"mine\"}")).build());
    assertThat(queued.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
    // The queue records the server's side as stored, too.
    assertThat(server.sql().resultQuery("select (server_data->'big')::text from conflict where conflict_id = ?::uuid",
        queued.getResolution().getConflictId()).fetchSingle().get(0, String.class)).isEqualTo(BIG);

    server.sync().resolveConflict(ResolveConflictRequest.newBuilder()
        .setConflictId(queued.getResolution().getConflictId())
        .setChoice(ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT)
        .setBaseRowVersion(queued.getEntity().getRowVersion()).build());

    assertThat(select("data", "manual")).isEqualTo("{\"big\": " + BIG + ", \"note\": \"mine\"}");
  }

  @Test
  void plainSqlReadersSeeNumbersStoredAsOneDotZeroKeptWhenAClientLeavesThemAlone() {
    long base = plainSqlWrite("legacy", "{\"qty\": 1.0, \"price\": 1.50, \"note\": \"a\"}");
    DeltaResult result = push("phone", delta("legacy", Operation.OPERATION_UPDATE, base)
        .setData(json("{\"qty\": 1, \"price\": 1.5, \"note\": \"b\"}")).build());
    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    // Equal values keep the form the other service wrote, so its own reads do not change under it.
    assertThat(select("data", "legacy")).isEqualTo("{\"qty\": 1.0, \"note\": \"b\", \"price\": 1.50}");
  }
}

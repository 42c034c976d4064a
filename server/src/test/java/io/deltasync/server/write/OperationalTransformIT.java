package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import io.deltasync.server.ot.InvalidOperationException;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Deltas with edits through the real server and database: applied at their base version, merged by operational
 * transform when the entity moved on (docs/operational-transform.md, "How the server uses it"), handed to the
 * fallback policy when the history cannot be transformed against, and refused field by field when invalid.
 */
class OperationalTransformIT {
  private static final String SCOPE = "ot";

  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);

  // ---- helpers: documents and edits written as proto3 JSON, as the docs show them ------------------------------

  static Struct json(String json) {
    Struct.Builder document = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, document);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return document.build();
  }

  static List<EditOperation> edits(String jsonArray) {
    Change.Builder holder = Change.newBuilder();
    try {
      JsonFormat.parser().merge("{\"edits\": " + jsonArray + "}", holder);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return holder.getEditsList();
  }

  /** What a client with OT state does locally: apply edits to its copy of the document. */
  static Struct applyLocally(Struct document, List<EditOperation> edits) {
    try {
      return OperationalTransform.apply(document, OperationCodec.fromProto(edits));
    } catch (InvalidOperationException e) {
      throw new AssertionError(e);
    }
  }

  static Delta create(String id, Struct data) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope(SCOPE).setOperation(Operation.OPERATION_CREATE).setData(data).build();
  }

  static Delta editsOf(String id, long base, List<EditOperation> edits) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope(SCOPE).setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(base).addAllEdits(edits).build();
  }

  static Delta dataOf(String id, long base, Struct data) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope(SCOPE).setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(base).setData(data).build();
  }

  private static List<DeltaResult> push(String clientId, Delta... deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(List.of(deltas)).build())
        .getResultsList();
  }

  private static DeltaResult pushOne(String clientId, Delta delta) {
    return push(clientId, delta).get(0);
  }

  static BadRequest badRequest(DeltaResult result) {
    try {
      for (var detail : result.getError().getDetailsList()) {
        if (detail.is(BadRequest.class)) {
          return detail.unpack(BadRequest.class);
        }
      }
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("no BadRequest in " + result);
  }

  /** The change that brought {@code id} to {@code rowVersion}, once the stream has delivered it. */
  private static Change awaitChange(StreamClient stream, String id, long rowVersion) {
    for (int i = 0; ; i++) {
      Change change = stream.awaitChanges(i + 1).get(i);
      if (change.getEntity().getEntityId().equals(id) && change.getEntity().getRowVersion() == rowVersion) {
        return change;
      }
    }
  }

  // ---- end to end -------------------------------------------------------------------------------------------------

  @Test
  void twoClientsEditingOfflineFromOneBaseConvergeThroughTheSyncStreamAndNothingTypedIsLost() {
    Struct base = json("""
        {"title": "Hi 👋 there", "todo": [{"text": "milk"}, {"text": "eggs"}, {"text": "bread"}]}""");
    assertThat(pushOne("setup", create("shopping", base)).getEntity().getRowVersion()).isEqualTo(1);

    // Offline, from row_version 1: both type after the 👋 (the same position); Bob also types at the end of the
    // title. Alice drags "bread" to the top while Bob types inside it and appends "jam".
    List<EditOperation> alice = edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 4}, {"insert": " Alice"}]}},
         {"path": [{"key": "todo"}], "arrayMove": {"fromIndex": 2, "toIndex": 0}}]""");
    List<EditOperation> bob = edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 4}, {"insert": " Bob"}, {"retain": 6},
          {"insert": "!"}]}},
         {"path": [{"key": "todo"}, {"index": 2}, {"key": "text"}], "text": {"components": [{"insert": "rye "}]}},
         {"path": [{"key": "todo"}], "arrayInsert": {"index": 3, "values": [{"text": "jam"}]}}]""");
    Struct aliceLocal = applyLocally(base, alice);
    Struct bobLocal = applyLocally(base, bob);

    try (StreamClient aliceStream = new StreamClient(server.channel());
        StreamClient bobStream = new StreamClient(server.channel())) {
      Subscription subscription = Subscription.newBuilder().addScopes(SCOPE).build();
      aliceStream.hello("alice", "", subscription);
      bobStream.hello("bob", "", subscription);
      aliceStream.awaitLive();
      bobStream.awaitLive();

      aliceStream.push("a1", editsOf("shopping", 1, alice));
      DeltaResult aliceResult = aliceStream.awaitResults("a1").getResults(0);
      assertThat(aliceResult.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(aliceResult.hasResolution()).as("no conflict at the base version").isFalse();
      assertThat(aliceResult.getEntity().getData()).isEqualTo(aliceLocal);

      bobStream.push("b1", editsOf("shopping", 1, bob));
      DeltaResult bobResult = bobStream.awaitResults("b1").getResults(0);
      assertThat(bobResult.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(bobResult.getResolution().getPolicy())
          .isEqualTo(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);
      assertThat(bobResult.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
      assertThat(bobResult.getResolution().getExplanation()).contains("since row_version 1", "alice");
      Entity merged = bobResult.getEntity();
      assertThat(merged.getRowVersion()).isEqualTo(3);

      // Alice's id is smaller, so her text goes first at the shared position; Bob's edit inside "bread" followed
      // it to the top; his "jam" and "!" are where he put them.
      Struct expected = json("""
          {"title": "Hi 👋 Alice Bob there!",
           "todo": [{"text": "rye bread"}, {"text": "milk"}, {"text": "eggs"}, {"text": "jam"}]}""");
      assertThat(merged.getData()).isEqualTo(expected);

      // Bob: his own document plus the rebase edits from his result.
      Struct bobFinal = applyLocally(bobLocal, bobResult.getRebaseEditsList());
      // Alice: her document plus the edits of Bob's change, delivered live.
      Change bobsChange = awaitChange(aliceStream, "shopping", 3);
      assertThat(bobsChange.getClientId()).isEqualTo("bob");
      assertThat(bobsChange.getEntity().getRowVersion()).isEqualTo(3);
      assertThat(bobsChange.getEditsList()).isNotEmpty();
      Struct aliceFinal = applyLocally(aliceLocal, bobsChange.getEditsList());

      assertThat(bobFinal).isEqualTo(expected);
      assertThat(aliceFinal).isEqualTo(expected);
      // Bob was told about Alice's change too, with the edits she made.
      Change alicesChange = awaitChange(bobStream, "shopping", 2);
      assertThat(alicesChange.getEditsList()).isEqualTo(alice);
    }
  }

  @Test
  void rebaseEditsBringTheClientToTheServersStateAcrossSeveralInterveningClients() {
    Struct base = json("{\"title\": \"ab\", \"tags\": [\"x\"]}");
    pushOne("setup", create("three-way", base));
    // Everyone inserts at position 1 of "ab" from row_version 1. Carol commits first, then Alice, then Bob.
    List<EditOperation> carol = edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "C"}]}}]""");
    List<EditOperation> alice = edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "A"}]}},
         {"path": [{"key": "tags"}], "arrayInsert": {"index": 0, "values": ["alice"]}}]""");
    List<EditOperation> bob = edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "B"}]}},
         {"path": [{"key": "tags"}], "arrayInsert": {"index": 0, "values": ["bob"]}}]""");
    assertThat(pushOne("carol", editsOf("three-way", 1, carol)).hasResolution()).isFalse();
    DeltaResult aliceResult = pushOne("alice", editsOf("three-way", 1, alice));
    assertThat(aliceResult.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    DeltaResult bobResult = pushOne("bob", editsOf("three-way", 1, bob));
    assertThat(bobResult.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(bobResult.getResolution().getExplanation()).contains("2 changes", "carol", "alice");

    // Each tie goes to the smaller id of the two clients that tie: A before B before C.
    Struct expected = json("{\"title\": \"aABCb\", \"tags\": [\"alice\", \"bob\", \"x\"]}");
    assertThat(bobResult.getEntity().getData()).isEqualTo(expected);
    assertThat(bobResult.getEntity().getRowVersion()).isEqualTo(4);
    assertThat(applyLocally(applyLocally(base, bob), bobResult.getRebaseEditsList())).isEqualTo(expected);
    assertThat(applyLocally(applyLocally(base, alice), aliceResult.getRebaseEditsList()))
        .isEqualTo(aliceResult.getEntity().getData());
  }

  /** Issue 10, item 11: a merge that leaves nothing to write says so, instead of claiming MERGED. */
  @Test
  void editsInsideAValueTheHistoryRemovedAreUnchangedNotMerged() {
    pushOne("setup", create("gone-title", json("{\"title\": \"ab\", \"body\": \"x\"}")));
    assertThat(pushOne("alice", editsOf("gone-title", 1, edits("""
        [{"objectUnset": {"key": "title"}}]"""))).getEntity().getRowVersion()).isEqualTo(2);
    DeltaResult bob = pushOne("bob", editsOf("gone-title", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "B"}]}}]""")));

    assertThat(bob.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(bob.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_UNCHANGED);
    assertThat(bob.getResolution().getExplanation()).contains("none of the delta's edits were left to apply");
    assertThat(bob.getEntity().getRowVersion()).isEqualTo(2);
    assertThat(bob.getEntity().getData()).isEqualTo(json("{\"body\": \"x\"}"));
    // The rebase edits still bring Bob's own document to the server's.
    assertThat(applyLocally(json("{\"title\": \"aBb\", \"body\": \"x\"}"), bob.getRebaseEditsList()))
        .isEqualTo(bob.getEntity().getData());
    assertThat(server.sql().fetchCount(io.deltasync.db.jooq.Tables.CHANGE_LOG,
        io.deltasync.db.jooq.Tables.CHANGE_LOG.ENTITY_ID.eq("gone-title"))).isEqualTo(2);
  }

  @Test
  void concurrentWritersAllMergeWithTheComparesAndSetRetriedOnRaces() throws Exception {
    Struct base = json("{\"title\": \"|\", \"items\": []}");
    pushOne("setup", create("race", base));
    int writers = 6;
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<String>> converged = new ArrayList<>();
      for (int i = 0; i < writers; i++) {
        String client = "w" + i;
        List<EditOperation> mine = edits("[{\"path\": [{\"key\": \"title\"}], \"text\": {\"components\": "
            + "[{\"insert\": \"<" + client + ">\"}]}}, {\"path\": [{\"key\": \"items\"}], \"arrayInsert\": "
            + "{\"index\": 0, \"values\": [\"" + client + "\"]}}]");
        converged.add(pool.submit(() -> {
          start.await();
          DeltaResult result;
          do {  // a writer that keeps losing races is told to retry (ABORTED): it does, with a new delta id
            result = pushOne(client, editsOf("race", 1, mine));
          } while (result.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED
              && result.getError().getCode() == Code.ABORTED_VALUE);
          assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
          Struct local = applyLocally(applyLocally(base, mine), result.getRebaseEditsList());
          return local.equals(result.getEntity().getData()) ? "" : client + ": local " + JsonFormat.printer()
              .print(local) + " server " + JsonFormat.printer().print(result.getEntity().getData()) + " result "
              + result;
        }));
      }
      start.countDown();
      for (Future<String> each : converged) {
        assertThat(each.get(60, TimeUnit.SECONDS)).isEmpty();
      }
    } finally {
      pool.shutdownNow();
    }
    String title = (String) server.sql().fetchValue("select data->>'title' from entity where scope = 'ot' "
        + "and entity_id = 'race'");
    String items = (String) server.sql().fetchValue("select data->>'items' from entity where scope = 'ot' "
        + "and entity_id = 'race'");
    for (int i = 0; i < writers; i++) {
      assertThat(title).contains("<w" + i + ">");
      assertThat(items).contains("\"w" + i + "\"");
    }
    assertThat(server.sql().fetchValue("select row_version from entity where scope = 'ot' and entity_id = 'race'"))
        .isEqualTo(1L + writers);
  }

  @Test
  void editsAreKeptInTheChangeLogAndPullExposesThemAsApplied() {
    pushOne("setup", create("logged", json("{\"body\": \"hello\"}")));
    List<EditOperation> first = edits("""
        [{"path": [{"key": "body"}], "text": {"components": [{"insert": "> "}]}},
         {"objectSet": {"key": "done", "value": false}}]""");
    pushOne("phone-1", editsOf("logged", 1, first));
    // Concurrent with the first: stored as transformed (its retain moves past the inserted "> ").
    List<EditOperation> second = edits("""
        [{"path": [{"key": "body"}], "text": {"components": [{"retain": 5}, {"insert": " world"}]}}]""");
    DeltaResult merged = pushOne("phone-2", editsOf("logged", 1, second));
    assertThat(merged.getEntity().getData()).isEqualTo(json("{\"body\": \"> hello world\", \"done\": false}"));
    List<EditOperation> asApplied = edits("""
        [{"path": [{"key": "body"}], "text": {"components": [{"retain": 7}, {"insert": " world"}]}}]""");
    pushOne("phone-1", dataOf("logged", 3, json("{\"body\": \"replaced\"}")));

    var rows = server.sql().fetch("select row_version, edits is null as no_edits, edits::text from change_log "
        + "where scope = 'ot' and entity_id = 'logged' order by row_version");
    assertThat(rows.getValues("no_edits", Boolean.class)).containsExactly(true, false, false, true);
    assertThat(server.sql().fetchValue("select jsonb_array_length(edits) from change_log where scope = 'ot' "
        + "and entity_id = 'logged' and row_version = 2")).isEqualTo(2);

    List<Change> pulled = server.sync().pull(PullRequest.newBuilder().addScopes(SCOPE).setPageSize(1000).build())
        .getChangesList().stream().filter(c -> c.getEntity().getEntityId().equals("logged")).toList();
    assertThat(pulled).hasSize(4);
    assertThat(pulled.get(0).getEditsList()).isEmpty();
    assertThat(pulled.get(1).getEditsList()).isEqualTo(first);
    assertThat(pulled.get(2).getEditsList()).isEqualTo(asApplied);
    assertThat(pulled.get(3).getEditsList()).isEmpty();
    // The change's edits turn the previous version into this one.
    assertThat(applyLocally(pulled.get(1).getEntity().getData(), pulled.get(2).getEditsList()))
        .isEqualTo(pulled.get(2).getEntity().getData());
  }

  // ---- fallback ---------------------------------------------------------------------------------------------------

  @Test
  void anInterveningWholeDataWriteHandsTheDeltaToTheFallbackPolicyWhichSaysWhy() {
    pushOne("setup", create("mixed", json("{\"title\": \"draft\", \"count\": 1}")));
    pushOne("tablet", dataOf("mixed", 1, json("{\"title\": \"draft\", \"count\": 2}")));

    DeltaResult result = pushOne("phone", editsOf("mixed", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 5}, {"insert": " 2"}]}}]""")));

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    // The server's default is operational transform, so the fallback is last-write-wins (never OT again): field
    // by field over the client's whole document (its edits applied to its base), keeping the server's count.
    assertThat(result.getResolution().getPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
    assertThat(result.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(result.getResolution().getExplanation())
        .contains("row_version 2 by client 'tablet' was not made with edits")
        .contains("resolved with CONFLICT_POLICY_LAST_WRITE_WINS instead");
    assertThat(result.getRebaseEditsList()).isEmpty();
    assertThat(result.getEntity().getData()).isEqualTo(json("{\"title\": \"draft 2\", \"count\": 2}"));
    // A fallback writes whole data: no edits in the log for it.
    assertThat(server.sql().fetchValue("select edits is null from change_log where scope = 'ot' "
        + "and entity_id = 'mixed' and row_version = 3")).isEqualTo(true);
  }

  @Test
  void aPlainSqlWriteInTheHistoryAlsoFallsBack() {
    pushOne("setup", create("by-sql", json("{\"title\": \"a\"}")));
    server.sql().execute("update entity set data = '{\"title\": \"a\", \"extra\": true}' "
        + "where scope = 'ot' and entity_id = 'by-sql'");
    DeltaResult result = pushOne("phone", editsOf("by-sql", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "b"}]}}]""")));
    assertThat(result.getResolution().getExplanation()).contains("by a plain-SQL writer was not made with edits");
    assertThat(result.getEntity().getData()).isEqualTo(json("{\"title\": \"ab\", \"extra\": true}"));
  }

  @Test
  void cleanedUpHistoryFallsBackAndAGoneBaseKeepsTheServersStateRatherThanGuess() {
    pushOne("setup", create("purged", json("{\"title\": \"one\"}")));
    pushOne("tablet", editsOf("purged", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 3}, {"insert": "!"}]}}]""")));
    server.sql().execute("delete from change_log where scope = 'ot' and entity_id = 'purged' and row_version = 2");

    DeltaResult result = pushOne("phone", editsOf("purged", 1, edits("""
        [{"objectSet": {"key": "tag", "value": "x"}}]""")));
    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(result.getResolution().getPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
    assertThat(result.getResolution().getExplanation())
        .contains("no longer holds every change after row_version 1");
    assertThat(result.getEntity().getData()).isEqualTo(json("{\"title\": \"one!\", \"tag\": \"x\"}"));

    // Now the base document itself is gone too: the edits cannot become a whole document.
    server.sql().execute("delete from change_log where scope = 'ot' and entity_id = 'purged' and row_version < 3");
    DeltaResult blind = pushOne("phone", editsOf("purged", 1, edits("""
        [{"objectSet": {"key": "tag", "value": "y"}}]""")));
    assertThat(blind.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(blind.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON);
    assertThat(blind.getResolution().getExplanation()).contains("document at base row_version 1 is no longer");
    assertThat(blind.getEntity().getData()).isEqualTo(json("{\"title\": \"one!\", \"tag\": \"x\"}"));
  }

  @Test
  void aDeltaWithEditsQueuedForManualResolutionCarriesTheClientsWholeDocument() {
    pushOne("setup", create("queued", json("{\"title\": \"t\"}")));
    pushOne("tablet", dataOf("queued", 1, json("{\"title\": \"t\", \"n\": 1}")));
    Delta manual = editsOf("queued", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 1}, {"insert": "x"}]}}]"""))
        .toBuilder().setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL).build();

    DeltaResult queued = pushOne("phone", manual);

    assertThat(queued.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(queued.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
    // Taking the client's side later writes the delta's data: it must be what the client meant, not empty.
    var conflict = server.sync().listConflicts(ListConflictsRequest.newBuilder().setScope(SCOPE).build())
        .getConflictsList().stream().filter(c -> c.getServerEntity().getEntityId().equals("queued")).findFirst()
        .orElseThrow();
    assertThat(conflict.getClientDelta().getData()).isEqualTo(json("{\"title\": \"tx\"}"));
    assertThat(conflict.getClientDelta().getEditsList()).isEqualTo(manual.getEditsList());
  }

  // ---- invalid edits ----------------------------------------------------------------------------------------------

  @Test
  void invalidEditsAreRejectedPerDeltaNamingTheFieldAndTheRestOfTheBatchIsApplied() {
    pushOne("setup", create("strict", json("{\"title\": \"abc\", \"items\": [1, 2]}")));
    pushOne("setup", create("strict-2", json("{\"v\": \"1\"}")));

    List<DeltaResult> results = push("phone",
        editsOf("strict", 1, edits("[{\"path\": [{\"key\": \"nope\"}], \"objectSet\": {\"key\": \"a\", "
            + "\"value\": 1}}]")),
        editsOf("strict", 1, edits("[{\"objectSet\": {\"key\": \"ok\", \"value\": 1}}, "
            + "{\"path\": [{\"key\": \"items\"}, {\"index\": 7}], \"objectSet\": {\"key\": \"a\", \"value\": 1}}]")),
        editsOf("strict", 1, edits("[{\"path\": [{\"key\": \"title\"}], \"text\": {\"components\": "
            + "[{\"retain\": 2}, {\"insert\": \"x\"}, {\"retain\": 4}]}}]")),
        editsOf("strict", 1, edits("[{\"path\": [{\"key\": \"title\"}], \"text\": {\"components\": "
            + "[{\"insert\": \"nul\\u0000\"}]}}]")),
        dataOf("strict-2", 1, json("{\"v\": \"2\"}")),
        editsOf("strict", 1, edits("[{\"path\": [{\"key\": \"items\"}], \"arrayRemove\": {\"index\": 0, "
            + "\"count\": 0}}]")));

    assertThat(results).extracting(DeltaResult::getStatus).containsExactly(DeltaStatus.DELTA_STATUS_REJECTED,
        DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED,
        DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_REJECTED);
    for (int i : new int[] {0, 1, 2, 3, 5}) {
      assertThat(results.get(i).getError().getCode()).as("delta %d", i).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
    }
    assertThat(badRequest(results.get(0)).getFieldViolations(0).getField()).isEqualTo("deltas[0].edits[0].path[0]");
    assertThat(badRequest(results.get(0)).getFieldViolations(0).getDescription()).contains("'nope' not found");
    assertThat(badRequest(results.get(1)).getFieldViolations(0).getField()).isEqualTo("deltas[1].edits[1].path[1]");
    assertThat(badRequest(results.get(1)).getFieldViolations(0).getDescription()).contains("index 7 out of range");
    assertThat(badRequest(results.get(2)).getFieldViolations(0).getField())
        .isEqualTo("deltas[2].edits[0].text.components[2].retain");
    assertThat(badRequest(results.get(3)).getFieldViolations(0).getField()).isEqualTo("deltas[3].edits");
    assertThat(badRequest(results.get(3)).getFieldViolations(0).getDescription())
        .startsWith("the document after the edits: ").contains("U+0000");
    assertThat(badRequest(results.get(5)).getFieldViolations(0).getField())
        .isEqualTo("deltas[5].edits[0].array_remove.count");
    assertThat(results.get(4).getEntity().getRowVersion()).isEqualTo(2);
    // Nothing of the rejected deltas reached the entity.
    assertThat(server.sql().fetchValue("select row_version from entity where scope = 'ot' and entity_id = 'strict'"))
        .isEqualTo(1L);
  }

  @Test
  void staleInvalidEditsAreRejectedAgainstTheClientsOwnBaseNotMergedOrFallenBack() {
    pushOne("setup", create("stale-bad", json("{\"title\": \"abc\"}")));
    pushOne("tablet", editsOf("stale-bad", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"insert": "0123456789"}]}}]""")));
    // The retain fits today's 13-character title but not the 3-character one the client based it on.
    DeltaResult result = pushOne("phone", editsOf("stale-bad", 1, edits("""
        [{"path": [{"key": "title"}], "text": {"components": [{"retain": 5}, {"insert": "x"}]}}]""")));
    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(badRequest(result).getFieldViolations(0).getField())
        .isEqualTo("deltas[0].edits[0].text.components[0].retain");
  }

  @Test
  void editsWithDataOrOnACreateOrDeleteAreRefused() {
    pushOne("setup", create("shape", json("{\"v\": \"1\"}")));
    List<EditOperation> set = edits("[{\"objectSet\": {\"key\": \"v\", \"value\": \"2\"}}]");
    List<DeltaResult> results = push("phone",
        dataOf("shape", 1, json("{\"v\": \"3\"}")).toBuilder().addAllEdits(set).build(),
        create("shape-new", json("{}")).toBuilder().addAllEdits(set).build(),
        Delta.newBuilder(editsOf("shape", 1, set)).setOperation(Operation.OPERATION_DELETE).build());
    assertThat(results).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(badRequest(results.get(0)).getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField)
        .containsExactly("deltas[0].edits");
    assertThat(badRequest(results.get(0)).getFieldViolations(0).getDescription()).contains("not both");
    assertThat(badRequest(results.get(1)).getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField)
        .containsExactly("deltas[1].edits");
    assertThat(badRequest(results.get(2)).getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField)
        .containsExactly("deltas[2].edits");
    assertThat(server.sql().fetchValue("select row_version from entity where scope = 'ot' and entity_id = 'shape'"))
        .isEqualTo(1L);
  }
}

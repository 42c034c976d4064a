package io.deltasync.sdk;

import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.ConflictResolution;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionOutcome;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local copy's rules on a real SQLite file, without a server. */
class ReplicaTest {
  private static final EntityKey X = new EntityKey("s", "inspection", "x");
  private static final EntityKey Y = new EntityKey("s", "inspection", "y");

  @TempDir
  Path dir;

  private SqliteLocalStore store;
  private Replica replica;

  @BeforeEach
  void open() {
    store = SqliteLocalStore.open(dir.resolve("r.db"));
    replica = new Replica(store);
  }

  @AfterEach
  void close() {
    store.close();
  }

  private static Entity entity(EntityKey key, long version, String value) {
    return entity(key, version, doc("v", value));
  }

  private static Entity entity(EntityKey key, long version, Struct data) {
    return Entity.newBuilder().setScope(key.scope()).setEntityType(key.entityType()).setEntityId(key.entityId())
        .setRowVersion(version).setData(data).build();
  }

  private static Change change(Entity entity) {
    return Change.newBuilder().setOperation(Operation.OPERATION_UPDATE).setEntity(entity).build();
  }

  private LocalEntity update(EntityKey key, String value) {
    return replica.write(key, Operation.OPERATION_UPDATE, doc("v", value), ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED,
        Instant.EPOCH);
  }

  @Test
  void aResyncForgetsTheServersStateButKeepsTheOutboxAndWhatTheAppWrote() {
    replica.applyChanges(List.of(change(entity(X, 3, "server")), change(entity(Y, 1, "server"))), "c-1");
    update(X, "mine");

    replica.resetServerState();

    assertThat(replica.cursor()).isEmpty();
    assertThat(replica.get(Y)).isEmpty();
    LocalEntity x = replica.get(X).orElseThrow();
    assertThat(x.data()).isEqualTo(doc("v", "mine"));
    assertThat(x.pending()).isTrue();
    assertThat(replica.outbox()).singleElement().satisfies(e -> {
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(3);
      assertThat(e.delta().getData()).isEqualTo(doc("v", "mine"));
    });
  }

  @Test
  void changesApplyByRowVersionAndADegradedOneKeepsTheDocument() {
    replica.applyChanges(List.of(change(entity(X, 2, "two"))), "c-2");
    replica.applyChanges(List.of(change(entity(X, 1, "one"))), "c-3");
    assertThat(replica.get(X).orElseThrow().data()).isEqualTo(doc("v", "two"));
    assertThat(replica.cursor()).isEqualTo("c-3");

    Change degraded = Change.newBuilder().setEntity(entity(X, 3, "").toBuilder().clearData())
        .setDegraded(com.google.rpc.Status.newBuilder().setCode(8)).build();
    replica.applyChanges(List.of(degraded), "");
    LocalEntity x = replica.get(X).orElseThrow();
    assertThat(x.serverVersion()).isEqualTo(3);
    assertThat(x.data()).isEqualTo(doc("v", "two"));
    assertThat(replica.cursor()).isEqualTo("c-3");
  }

  @Test
  void aChainedWriteIsBasedOnTheResultOfTheOneBeforeIt() {
    replica.applyChanges(List.of(change(entity(X, 4, "server"))), "c");
    update(X, "first");
    update(X, "second");
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    assertThat(batch).singleElement().satisfies(e -> assertThat(e.delta().getBaseRowVersion()).isEqualTo(4));
    assertThat(replica.nextBatch(10, e -> true)).as("one in flight per entity, sent again as it was")
        .containsExactly(batch.get(0));

    replica.applyResults(batch, List.of(DeltaResult.newBuilder().setDeltaId(batch.get(0).deltaId())
        .setStatus(DeltaStatus.DELTA_STATUS_APPLIED).setEntity(entity(X, 5, "first")).build()));
    List<OutboxEntry> next = replica.nextBatch(10, e -> true);
    assertThat(next).singleElement().satisfies(e -> {
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(5);
      assertThat(e.delta().getData()).isEqualTo(doc("v", "second"));
    });
    assertThat(replica.get(X).orElseThrow().data()).isEqualTo(doc("v", "second"));

    replica.applyResults(next, List.of(DeltaResult.newBuilder().setDeltaId(next.get(0).deltaId())
        .setStatus(DeltaStatus.DELTA_STATUS_CONFLICT).setEntity(entity(X, 6, "theirs")).build()));
    LocalEntity x = replica.get(X).orElseThrow();
    assertThat(x.pending()).isFalse();
    assertThat(x.data()).isEqualTo(doc("v", "theirs"));
    assertThat(replica.pendingCount()).isZero();
  }

  @Test
  void aRejectedWriteLeavesTheOutboxAndTheNextOneKeepsItsBase() {
    replica.applyChanges(List.of(change(entity(X, 2, "server"))), "c");
    update(X, "bad");
    update(X, "good");
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    List<Replica.Outcome> outcomes = replica.applyResults(batch, List.of(DeltaResult.newBuilder()
        .setDeltaId(batch.get(0).deltaId()).setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
        .setError(com.google.rpc.Status.newBuilder().setCode(3)).build()));
    assertThat(outcomes).extracting(Replica.Outcome::kind).containsExactly(Replica.Outcome.Kind.REJECTED);
    assertThat(replica.nextBatch(10, e -> true)).singleElement()
        .satisfies(e -> assertThat(e.delta().getBaseRowVersion()).isEqualTo(2));
    assertThat(replica.get(X).orElseThrow().data()).isEqualTo(doc("v", "good"));
  }

  @Test
  void aPendingEditLeftWithNothingToDoIsDroppedAndTheNextTakesItsBase() {
    Struct both = props(Map.of("color", "red", "size", "M"));
    replica.applyChanges(List.of(change(entity(X, 4, both))), "c");
    List<Object> at = List.of("props");
    replica.edit(X, List.of(Edits.objectSet(at, "color", Value.newBuilder().setStringValue("blue").build())),
        Instant.EPOCH);
    replica.edit(X, List.of(Edits.objectUnset(at, "size")), Instant.EPOCH);
    replica.edit(X, List.of(Edits.objectSet(at, "color", Value.newBuilder().setStringValue("green").build())),
        Instant.EPOCH);
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    assertThat(batch).singleElement().satisfies(e -> assertThat(e.delta().getBaseRowVersion()).isEqualTo(4));

    // Someone else unset "size" at version 5; the server merged our set past it (version 6) and sends the unset back.
    replica.applyResults(batch, List.of(DeltaResult.newBuilder().setDeltaId(batch.get(0).deltaId())
        .setStatus(DeltaStatus.DELTA_STATUS_APPLIED).setEntity(entity(X, 6, props(Map.of("color", "blue"))))
        .addRebaseEdits(Edits.objectUnset(at, "size")).build()));

    // Our own unset of "size" has nothing left to do: it is not sent (empty, it would be an update with no data),
    // and the set behind it goes out at the merged version instead of waiting on a result that never comes.
    List<OutboxEntry> next = replica.nextBatch(10, e -> true);
    assertThat(next).singleElement().satisfies(e -> {
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(6);
      assertThat(e.delta().getEditsList()).containsExactly(
          Edits.objectSet(at, "color", Value.newBuilder().setStringValue("green").build()));
    });
    assertThat(replica.pendingCount()).isEqualTo(1);
    assertThat(replica.get(X).orElseThrow().data()).isEqualTo(props(Map.of("color", "green")));
  }

  private static DeltaResult result(OutboxEntry sent, DeltaStatus status, Entity entity, ConflictPolicy policy,
      ResolutionOutcome outcome) {
    DeltaResult.Builder result = DeltaResult.newBuilder().setDeltaId(sent.deltaId()).setStatus(status)
        .setEntity(entity);
    if (outcome != null) {
      result.setResolution(ConflictResolution.newBuilder().setPolicy(policy).setOutcome(outcome));
    }
    return result.build();
  }

  private LocalEntity create(EntityKey key, String value) {
    return replica.write(key, Operation.OPERATION_CREATE, doc("v", value), ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED,
        Instant.EPOCH);
  }

  @Test
  void anUpdateBehindACreateTheServerDidNotTakeBecomesACreateAndADeleteBehindItIsReportedLost() {
    create(X, "mine");
    update(X, "mine, edited");
    create(Y, "mine");
    replica.write(Y, Operation.OPERATION_DELETE, null, ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED, Instant.EPOCH);
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    assertThat(batch).extracting(e -> e.delta().getOperation())
        .containsExactly(Operation.OPERATION_CREATE, Operation.OPERATION_CREATE);

    // Another device created both first; the server kept its documents (server wins).
    List<Replica.Outcome> outcomes = replica.applyResults(batch, List.of(
        result(batch.get(0), DeltaStatus.DELTA_STATUS_CONFLICT, entity(X, 1, "theirs"),
            ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON),
        result(batch.get(1), DeltaStatus.DELTA_STATUS_CONFLICT, entity(Y, 1, "theirs"),
            ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON)));

    // Never an update based on 0 (refused for good), never one based on 1 (it would overwrite the server's create):
    // a create of the same document, which the server's policy judges as the same conflict.
    assertThat(replica.nextBatch(10, e -> true)).singleElement().satisfies(e -> {
      assertThat(e.key()).isEqualTo(X);
      assertThat(e.delta().getOperation()).isEqualTo(Operation.OPERATION_CREATE);
      assertThat(e.delta().getBaseRowVersion()).isZero();
      assertThat(e.delta().getData()).isEqualTo(doc("v", "mine, edited"));
    });
    assertThat(replica.get(X).orElseThrow().data()).isEqualTo(doc("v", "mine, edited"));
    // The delete would have deleted the other device's entity: it lost with the create it was made on.
    assertThat(outcomes).extracting(o -> o.entry().key(), Replica.Outcome::kind).containsExactly(
        org.assertj.core.groups.Tuple.tuple(X, Replica.Outcome.Kind.CONFLICT),
        org.assertj.core.groups.Tuple.tuple(Y, Replica.Outcome.Kind.CONFLICT),
        org.assertj.core.groups.Tuple.tuple(Y, Replica.Outcome.Kind.CONFLICT));
    assertThat(outcomes.get(2).entry().delta().getOperation()).isEqualTo(Operation.OPERATION_DELETE);
    assertThat(outcomes.get(2).result().getDeltaId()).isEqualTo(outcomes.get(2).entry().deltaId());
    // Reported as its own conflict: no policy decided it, so no resolution (and no conflict id) is copied.
    assertThat(outcomes.get(2).result().getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(outcomes.get(2).result().hasResolution()).isFalse();
    assertThat(outcomes.get(2).result().getError().getMessage()).contains("followed delta " + batch.get(1).deltaId());
    LocalEntity y = replica.get(Y).orElseThrow();
    assertThat(y.pending()).isFalse();
    assertThat(y.deleted()).isFalse();
    assertThat(y.data()).isEqualTo(doc("v", "theirs"));
  }

  @Test
  void behindAMergeThatKeptServerFieldsTheNextWriteKeepsTheStaleBaseSoThePolicyDecidesAgain() {
    replica.applyChanges(List.of(change(entity(X, 4, "server"))), "c");
    update(X, "first");
    update(X, "second");
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    replica.applyResults(batch, List.of(result(batch.get(0), DeltaStatus.DELTA_STATUS_APPLIED,
        entity(X, 7, "merged"), ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        ResolutionOutcome.RESOLUTION_OUTCOME_MERGED)));
    // Based on 7 it would replace the fields the merge kept for the server without a conflict.
    assertThat(replica.nextBatch(10, e -> true)).singleElement()
        .satisfies(e -> assertThat(e.delta().getBaseRowVersion()).isEqualTo(4));
    assertThat(replica.get(X).orElseThrow().serverVersion()).isEqualTo(7);
  }

  @Test
  void behindAClientWinTheNextWriteIsBasedOnTheResult() {
    create(X, "mine");
    update(X, "mine, edited");
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    replica.applyResults(batch, List.of(result(batch.get(0), DeltaStatus.DELTA_STATUS_APPLIED, entity(X, 2, "mine"),
        ConflictPolicy.CONFLICT_POLICY_CLIENT_WINS, ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON)));
    assertThat(replica.nextBatch(10, e -> true)).singleElement().satisfies(e -> {
      assertThat(e.delta().getOperation()).isEqualTo(Operation.OPERATION_UPDATE);
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(2);
    });
  }

  @Test
  void editsBehindAConflictGoAsTheWholeDocumentUnderThePolicyThatDecided() {
    Struct both = props(Map.of("color", "red"));
    replica.applyChanges(List.of(change(entity(X, 4, both))), "c");
    List<Object> at = List.of("props");
    replica.edit(X, List.of(Edits.objectSet(at, "color", Value.newBuilder().setStringValue("blue").build())),
        Instant.EPOCH);
    replica.edit(X, List.of(Edits.objectSet(at, "size", Value.newBuilder().setStringValue("L").build())),
        Instant.EPOCH);
    replica.edit(X, List.of(Edits.objectSet(at, "color", Value.newBuilder().setStringValue("green").build())),
        Instant.EPOCH);
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    // Operational transform fell back to server wins (history gone): the edits behind were made on our document.
    replica.applyResults(batch, List.of(result(batch.get(0), DeltaStatus.DELTA_STATUS_CONFLICT,
        entity(X, 9, props(Map.of("color", "black"))), ConflictPolicy.CONFLICT_POLICY_SERVER_WINS,
        ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON)));
    assertThat(replica.outbox()).singleElement().satisfies(e -> {
      assertThat(e.chained()).isFalse();
      assertThat(e.delta().getEditsCount()).isZero();
      assertThat(e.delta().getData()).isEqualTo(props(Map.of("color", "green", "size", "L")));
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(4);
      assertThat(e.delta().getConflictPolicy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);
    });
  }

  @Test
  void resultsAreMatchedByIdAndWhatTheSdkCannotReadKeepsTheWrite() {
    create(X, "x");
    create(Y, "y");
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    EntityKey stranger = new EntityKey("s", "inspection", "stranger");
    List<Replica.Outcome> outcomes = replica.applyResults(batch, List.of(
        DeltaResult.newBuilder().setDeltaId("not-ours").setStatus(DeltaStatus.DELTA_STATUS_APPLIED)
            .setEntity(entity(stranger, 1, "x")).build(),
        DeltaResult.newBuilder().setDeltaId(batch.get(0).deltaId()).setStatusValue(99)
            .setEntity(entity(X, 1, "x")).build()));
    assertThat(outcomes).extracting(Replica.Outcome::kind)
        .containsExactly(Replica.Outcome.Kind.RETRY, Replica.Outcome.Kind.RETRY);
    assertThat(replica.outbox()).extracting(OutboxEntry::deltaId)
        .containsExactly(batch.get(0).deltaId(), batch.get(1).deltaId());
    assertThat(replica.get(stranger)).isEmpty();
    assertThat(replica.get(X).orElseThrow().pending()).isTrue();

    // A result whose entity is another entity's is not stored under this one.
    List<OutboxEntry> again = replica.nextBatch(10, e -> true);
    replica.applyResults(again, List.of(
        result(again.get(0), DeltaStatus.DELTA_STATUS_APPLIED, entity(stranger, 5, "x"), null, null),
        result(again.get(1), DeltaStatus.DELTA_STATUS_APPLIED, entity(Y, 1, "y"), null, null)));
    assertThat(replica.get(stranger)).isEmpty();
    assertThat(replica.get(Y).orElseThrow().serverVersion()).isEqualTo(1);
    assertThat(replica.outbox()).isEmpty();
  }

  @Test
  void theLocalCopyIsQueriedByTypeAndScopeAsTheAppSeesIt() {
    EntityKey gate = new EntityKey("site-1", "gate", "g1");
    EntityKey otherSite = new EntityKey("site-2", "inspection", "i9");
    EntityKey gone = new EntityKey("site-1", "inspection", "i3");
    replica.applyChanges(List.of(change(entity(new EntityKey("site-1", "inspection", "i2"), 1, "server")),
        change(entity(gate, 1, "server")), change(entity(otherSite, 1, "server")),
        change(entity(gone, 1, "server"))), "c");
    create(new EntityKey("site-1", "inspection", "i1"), "mine");                  // pending: seen at once
    replica.write(gone, Operation.OPERATION_DELETE, null, ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED,
        Instant.EPOCH);                                                            // deleted locally: not listed

    assertThat(replica.query("inspection", "site-1")).extracting(e -> e.key().entityId(), LocalEntity::pending)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("i1", true),
            org.assertj.core.groups.Tuple.tuple("i2", false));
    assertThat(replica.query(null, "site-1")).extracting(e -> e.key().entityId()).containsExactly("g1", "i1", "i2");
    assertThat(replica.query("inspection", null)).extracting(e -> e.key().entityId())
        .containsExactlyInAnyOrder("i1", "i2", "i9");
    assertThat(replica.query(null, null)).hasSize(4);
    assertThat(replica.query("gate", "site-2")).isEmpty();
  }

  private static Struct props(Map<String, String> fields) {
    Struct.Builder props = Struct.newBuilder();
    fields.forEach((k, v) -> props.putFields(k, Value.newBuilder().setStringValue(v).build()));
    return Struct.newBuilder().putFields("props", Value.newBuilder().setStructValue(props).build()).build();
  }

  private static Struct two(String a, String b) {
    Struct.Builder data = Struct.newBuilder();
    if (a != null) {
      data.putFields("a", Value.newBuilder().setStringValue(a).build());
    }
    if (b != null) {
      data.putFields("b", Value.newBuilder().setStringValue(b).build());
    }
    return data.build();
  }

  @Test
  void createEditDeleteBehindACreateTheServerDidNotTakeReportsEachDroppedWriteUnderItsOwnId() {
    create(X, "mine");
    replica.edit(X, List.of(Edits.insertText(List.of("v"), 4, ", typed")), Instant.EPOCH);
    replica.write(X, Operation.OPERATION_DELETE, null, ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED, Instant.EPOCH);
    List<OutboxEntry> all = replica.outbox();
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    List<Replica.Outcome> outcomes = replica.applyResults(batch, List.of(result(batch.get(0),
        DeltaStatus.DELTA_STATUS_CONFLICT, entity(X, 1, "theirs"), ConflictPolicy.CONFLICT_POLICY_SERVER_WINS,
        ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON)));
    // The edit (sent as the user's document: deleted) and the delete both lost with the create, each reported.
    assertThat(outcomes).extracting(o -> o.result().getDeltaId())
        .containsExactly(all.get(0).deltaId(), all.get(1).deltaId(), all.get(2).deltaId());
    assertThat(outcomes).extracting(Replica.Outcome::kind).containsOnly(Replica.Outcome.Kind.CONFLICT);
    assertThat(outcomes.subList(1, 3)).allSatisfy(o -> assertThat(o.result().hasResolution()).isFalse());
    assertThat(replica.pendingCount()).isZero();
    assertThat(replica.get(X).orElseThrow().data()).isEqualTo(doc("v", "theirs"));
  }

  @Test
  void notFoundMeansNotYetAndIsRetried() {
    DeltaResult notFound = DeltaResult.newBuilder().setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
        .setError(com.google.rpc.Status.newBuilder().setCode(io.grpc.Status.Code.NOT_FOUND.value())).build();
    assertThat(Replica.isRetryable(notFound)).isTrue();
  }

  @Test
  void notFoundIsRetriedUntilItsLimitThenReportedAsRejectedAndTheQueueMovesOn() {
    replica.applyChanges(List.of(change(entity(X, 2, "server")), change(entity(Y, 1, "server"))), "c");
    update(X, "mine");
    update(Y, "other");
    for (int answer = 1; answer <= Replica.NOT_FOUND_ATTEMPTS; answer++) {
      List<OutboxEntry> batch = replica.nextBatch(10, e -> e.key().equals(X));
      assertThat(batch).singleElement();
      List<Replica.Outcome> outcomes = replica.applyResults(batch, List.of(DeltaResult.newBuilder()
          .setDeltaId(batch.get(0).deltaId()).setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
          .setError(com.google.rpc.Status.newBuilder().setCode(io.grpc.Status.Code.NOT_FOUND.value())).build()));
      assertThat(outcomes).extracting(Replica.Outcome::kind).containsExactly(
          answer < Replica.NOT_FOUND_ATTEMPTS ? Replica.Outcome.Kind.RETRY : Replica.Outcome.Kind.REJECTED);
    }
    assertThat(replica.nextBatch(10, e -> e.key().equals(X))).isEmpty();
    assertThat(replica.outbox()).singleElement().satisfies(e -> assertThat(e.key()).isEqualTo(Y));
  }

  @Test
  void anUpdateBehindALastWriteWinsMergeIsRebasedOntoTheMergeOrJudgedWhenItTouchesTheServersFields() {
    replica.applyChanges(List.of(change(entity(X, 1, two("0", "0")))), "");
    replica.write(X, Operation.OPERATION_UPDATE, two("mine", "mine"), ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED,
        Instant.EPOCH);
    replica.write(X, Operation.OPERATION_UPDATE, two("mine", null), ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED,
        Instant.EPOCH);
    List<OutboxEntry> batch = replica.nextBatch(10, e -> true);
    // Merged: a went to the server's later write, b to ours.
    replica.applyResults(batch, List.of(result(batch.get(0), DeltaStatus.DELTA_STATUS_APPLIED,
        entity(X, 3, two("theirs", "mine")), ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        ResolutionOutcome.RESOLUTION_OUTCOME_MERGED)));
    // The next write only removed b (ours): rebased onto the merge, at its version; a keeps the server's value.
    assertThat(replica.nextBatch(10, e -> true)).singleElement().satisfies(e -> {
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(3);
      assertThat(e.delta().getData()).isEqualTo(two("theirs", null));
    });

    EntityKey y = new EntityKey(X.scope(), X.entityType(), "y");
    replica.applyChanges(List.of(change(entity(y, 1, two("0", "0")))), "");
    replica.write(y, Operation.OPERATION_UPDATE, two("mine", "mine"), ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED,
        Instant.EPOCH);
    replica.write(y, Operation.OPERATION_UPDATE, two("mine, again", "mine"),
        ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED, Instant.EPOCH);
    List<OutboxEntry> second = replica.nextBatch(10, e -> e.key().equals(y));
    replica.applyResults(second, List.of(result(second.get(0), DeltaStatus.DELTA_STATUS_CONFLICT,
        entity(y, 3, two("theirs", "theirs")), ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON)));
    // It changes a, whose server value is not ours: the policy judges it at the stale base, on the server's document.
    assertThat(replica.nextBatch(10, e -> e.key().equals(y))).singleElement().satisfies(e -> {
      assertThat(e.delta().getBaseRowVersion()).isEqualTo(1);
      assertThat(e.delta().getData()).isEqualTo(two("mine, again", "theirs"));
    });
  }
}

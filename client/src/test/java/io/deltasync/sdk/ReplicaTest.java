package io.deltasync.sdk;

import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
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

  private static Struct props(Map<String, String> fields) {
    Struct.Builder props = Struct.newBuilder();
    fields.forEach((k, v) -> props.putFields(k, Value.newBuilder().setStringValue(v).build()));
    return Struct.newBuilder().putFields("props", Value.newBuilder().setStructValue(props).build()).build();
  }
}

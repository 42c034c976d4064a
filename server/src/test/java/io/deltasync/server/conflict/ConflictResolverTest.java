package io.deltasync.server.conflict;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionOutcome;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The policies' decisions, without a database. */
class ConflictResolverTest {
  private static final WriteClock EARLY = new WriteClock(1_000_000, "b");
  private static final WriteClock LATE = new WriteClock(2_000_000, "a");

  private static Struct doc(String... keyValues) {
    Struct.Builder doc = Struct.newBuilder();
    for (int i = 0; i < keyValues.length; i += 2) {
      doc.putFields(keyValues[i], Value.newBuilder().setStringValue(keyValues[i + 1]).build());
    }
    return doc.build();
  }

  private static Entity live(Struct data) {
    return Entity.newBuilder().setEntityId("e").setRowVersion(2).setData(data).build();
  }

  private static ConflictResolver.Input update(Struct base, Struct client, Struct server,
      Map<String, WriteClock> fieldClocks, WriteClock incoming) {
    return new ConflictResolver.Input(Operation.OPERATION_UPDATE, client, live(server), Optional.of(base),
        fieldClocks, fieldClocks.values().stream().max(WriteClock::compareTo).orElse(EARLY), incoming);
  }

  @Test
  void lastWriteWinsKeepsEditsToDifferentFieldsFromBothSides() {
    var decision = ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        update(doc("title", "t0", "body", "b0"), doc("title", "t-client", "body", "b0"),
            doc("title", "t0", "body", "b-server"), Map.of("body", LATE), EARLY));
    assertThat(decision).isInstanceOfSatisfying(ConflictResolver.WriteData.class, write -> {
      assertThat(write.data()).isEqualTo(doc("title", "t-client", "body", "b-server"));
      assertThat(write.outcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
      assertThat(write.clientFields()).containsExactly("title");
      assertThat(write.serverFields()).isEmpty();
    });
  }

  @Test
  void lastWriteWinsGivesAFieldBothChangedToTheLaterWrite() {
    Struct base = doc("title", "t0");
    var clientLater = ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        update(base, doc("title", "client"), doc("title", "server"), Map.of("title", EARLY), LATE));
    assertThat(clientLater).isInstanceOfSatisfying(ConflictResolver.WriteData.class, write -> {
      assertThat(write.data()).isEqualTo(doc("title", "client"));
      assertThat(write.outcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON);
    });
    var serverLater = ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        update(base, doc("title", "client"), doc("title", "server"), Map.of("title", LATE), EARLY));
    assertThat(serverLater).isInstanceOf(ConflictResolver.KeepServer.class);
  }

  @Test
  void equalTimesAreBrokenByWriterIdTheSameWayEverywhere() {
    WriteClock alice = new WriteClock(5, "alice");
    WriteClock bob = new WriteClock(5, "bob");
    assertThat(bob.beats(alice)).isTrue();
    assertThat(alice.beats(bob)).isFalse();
    var decision = ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        update(doc("x", "0"), doc("x", "alice"), doc("x", "bob"), Map.of("x", bob), alice));
    assertThat(decision).isInstanceOf(ConflictResolver.KeepServer.class);
  }

  @Test
  void removingAFieldIsAnEditLikeAnyOther() {
    var decision = ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS,
        update(doc("a", "1", "b", "1"), doc("a", "1"), doc("a", "2", "b", "1"), Map.of("a", LATE), EARLY));
    assertThat(decision).isInstanceOfSatisfying(ConflictResolver.WriteData.class, write ->
        assertThat(write.data()).isEqualTo(doc("a", "2")));
  }

  @Test
  void withoutTheBaseDocumentLastWriteWinsComparesWholeWrites() {
    var input = new ConflictResolver.Input(Operation.OPERATION_UPDATE, doc("t", "client"), live(doc("t", "server",
        "other", "x")), Optional.empty(), Map.of(), EARLY, LATE);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, input))
        .isInstanceOfSatisfying(ConflictResolver.WriteData.class, write ->
            assertThat(write.data()).isEqualTo(doc("t", "client")));
  }

  @Test
  void deletesAndTombstonesGoToTheLaterWrite() {
    Entity tombstone = Entity.newBuilder().setRowVersion(3).setIsDeleted(true).build();
    var updateAfterDelete = new ConflictResolver.Input(Operation.OPERATION_UPDATE, doc("t", "x"), tombstone,
        Optional.of(doc()), Map.of(), EARLY, LATE);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, updateAfterDelete))
        .isInstanceOf(ConflictResolver.WriteData.class);
    var updateBeforeDelete = new ConflictResolver.Input(Operation.OPERATION_UPDATE, doc("t", "x"), tombstone,
        Optional.of(doc()), Map.of(), LATE, EARLY);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, updateBeforeDelete))
        .isInstanceOf(ConflictResolver.KeepServer.class);
    var deleteAfterUpdate = new ConflictResolver.Input(Operation.OPERATION_DELETE, Struct.getDefaultInstance(),
        live(doc("t", "y")), Optional.empty(), Map.of(), EARLY, LATE);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, deleteAfterUpdate))
        .isInstanceOf(ConflictResolver.WriteDelete.class);
  }

  @Test
  void aWholeWriteMustBeatTheLatestFieldClockNotOnlyTheEntityClock() {
    // A field merge stamped the entity EARLY while keeping a field written LATE; a write in between is not later.
    WriteClock between = new WriteClock(1_500_000, "c");
    var delete = new ConflictResolver.Input(Operation.OPERATION_DELETE, Struct.getDefaultInstance(),
        live(doc("t", "y", "u", "z")), Optional.empty(), Map.of("t", LATE, "u", EARLY), EARLY, between);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, delete))
        .isInstanceOf(ConflictResolver.KeepServer.class);
    var withoutBase = new ConflictResolver.Input(Operation.OPERATION_UPDATE, doc("t", "x"),
        live(doc("t", "y", "u", "z")), Optional.empty(), Map.of("t", LATE, "u", EARLY), EARLY, between);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, withoutBase))
        .isInstanceOf(ConflictResolver.KeepServer.class);
  }

  @Test
  void clientWinsServerWinsAndManualIgnoreClocks() {
    var input = update(doc("t", "0"), doc("t", "client"), doc("t", "server"), Map.of("t", LATE), EARLY);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_CLIENT_WINS, input))
        .isInstanceOfSatisfying(ConflictResolver.WriteData.class, write ->
            assertThat(write.data()).isEqualTo(doc("t", "client")));
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, input))
        .isInstanceOf(ConflictResolver.KeepServer.class);
    assertThat(ConflictResolver.decide(ConflictPolicy.CONFLICT_POLICY_MANUAL, input))
        .isInstanceOf(ConflictResolver.Queue.class);
  }

  @Test
  void aClientClockAheadOfTheServerIsCappedAtTheAllowedSkew() {
    Instant server = Instant.parse("2026-11-25T12:00:00Z");
    Delta nextYear = Delta.newBuilder().setClientModifiedAt(Timestamp.newBuilder()
        .setSeconds(Instant.parse("2027-11-25T12:00:00Z").getEpochSecond())).build();
    WriteClock capped = WriteClock.of(nextYear, "phone", server, Duration.ofSeconds(2));
    assertThat(capped.micros()).isEqualTo(WriteClock.micros(server.plusSeconds(2)));

    Delta honestPast = Delta.newBuilder().setClientModifiedAt(Timestamp.newBuilder()
        .setSeconds(server.getEpochSecond() - 3600).setNanos(123_456_000)).build();
    assertThat(WriteClock.of(honestPast, "phone", server, Duration.ofSeconds(2)).micros())
        .isEqualTo(WriteClock.micros(server.minusSeconds(3600)) + 123_456);
    assertThat(WriteClock.of(Delta.getDefaultInstance(), "phone", server, Duration.ofSeconds(2)).micros())
        .isEqualTo(WriteClock.micros(server));
  }

  @Test
  void operationalTransformFallsBackAndSaysWhy() {
    ConflictPolicies policies = new ConflictPolicies(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS,
        Map.of("note", ConflictPolicy.CONFLICT_POLICY_MANUAL), true);
    Delta wholeData = Delta.newBuilder().setEntityType("note")
        .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM).build();
    ConflictPolicies.Choice choice = policies.choose(wholeData);
    assertThat(choice.policy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_MANUAL);
    assertThat(choice.explanation()).contains("needs the delta's edits");

    ConflictPolicies disabled = new ConflictPolicies(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS, Map.of(), false);
    Delta withEdits = wholeData.toBuilder().setEntityType("task").addEdits(EditOperation.getDefaultInstance())
        .build();
    ConflictPolicies.Choice off = disabled.choose(withEdits);
    assertThat(off.policy()).isEqualTo(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);
    assertThat(off.explanation()).contains("ENABLE_OPERATIONAL_TRANSFORM=false");

    assertThat(policies.choose(Delta.newBuilder().setEntityType("note").build()).policy())
        .as("the entity type's policy before the default").isEqualTo(ConflictPolicy.CONFLICT_POLICY_MANUAL);
    assertThat(policies.choose(Delta.newBuilder().setEntityType("task").build()).policy())
        .isEqualTo(ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);
  }
}

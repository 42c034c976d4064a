package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.GetStatusResponse;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChecksum;
import io.deltasync.v1.SyncChecksumRequest;
import io.deltasync.v1.SyncError;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncWelcome;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Sync stream on a real Netty server and the real database. */
class SyncStreamIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static Subscription scope(String scope) {
    return Subscription.newBuilder().addScopes(scope).build();
  }

  private static Delta in(String scope, Delta delta) {
    return delta.toBuilder().setScope(scope).build();
  }

  private static String reason(com.google.rpc.Status status) throws Exception {
    return status.getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).findFirst().orElseThrow()
        .unpack(ErrorInfo.class).getReason();
  }

  @Test
  void aPushFromOneClientReachesTheOtherLiveButNotItself() {
    try (StreamClient alice = new StreamClient(server.channel());
        StreamClient bob = new StreamClient(server.channel())) {
      alice.hello("alice", "", scope("live"));
      bob.hello("bob", "", scope("live"));
      SyncWelcome welcome = alice.await(SyncResponse::hasWelcome, "welcome").getWelcome();
      assertThat(welcome.getLimits().getMaxDeltasPerPush()).isEqualTo(500);
      assertThat(welcome.getHeartbeatInterval().getSeconds()).isEqualTo(15);
      assertThat(welcome.getRetryPolicy().getMaxRetries()).isEqualTo(5);
      alice.awaitLive();
      bob.awaitLive();

      alice.push("a1", in("live", create("from-alice", doc("v", "a"))));
      assertThat(alice.awaitResults("a1").getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      bob.push("b1", in("live", create("from-bob", doc("v", "b"))));
      bob.awaitResults("b1");

      List<Change> bobSaw = bob.awaitChanges(1);
      assertThat(bobSaw).extracting(c -> c.getEntity().getEntityId()).containsExactly("from-alice");
      assertThat(bobSaw.get(0).getClientId()).isEqualTo("alice");
      List<Change> aliceSaw = alice.awaitChanges(1);
      assertThat(aliceSaw).extracting(c -> c.getEntity().getEntityId()).containsExactly("from-bob");

      // A plain-SQL write by another service reaches both.
      server.sql().execute("insert into entity (scope, entity_type, entity_id, data) "
          + "values ('live', 'note', 'from-sql', '{\"v\": \"sql\"}')");
      assertThat(alice.awaitChanges(2).get(1).getEntity().getEntityId()).isEqualTo("from-sql");
      assertThat(bob.awaitChanges(2).get(1).getEntity().getEntityId()).isEqualTo("from-sql");
      assertThat(alice.changes()).hasSize(2);
      alice.assertOpen();
    }
  }

  @Test
  void subscriptionsFilterByScopeAndEntityType() {
    try (StreamClient notesInA = new StreamClient(server.channel());
        StreamClient everythingInB = new StreamClient(server.channel())) {
      notesInA.hello("filter-1", "", Subscription.newBuilder().setEntityType("note").addScopes("f-a").build());
      everythingInB.hello("filter-2", "", scope("f-b"));
      notesInA.awaitLive();
      everythingInB.awaitLive();

      server.sync().push(PushRequest.newBuilder().setClientId("writer")
          .addDeltas(in("f-a", create("note-a", doc("v", "1"))))
          .addDeltas(in("f-a", create("task-a", doc("v", "1")).toBuilder().setEntityType("task").build()))
          .addDeltas(in("f-b", create("note-b", doc("v", "1"))))
          .addDeltas(in("f-c", create("note-c", doc("v", "1"))))
          .addDeltas(in("f-a", create("note-a2", doc("v", "1")))).build());

      assertThat(notesInA.awaitChanges(2)).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("note-a", "note-a2");
      assertThat(everythingInB.awaitChanges(1)).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("note-b");
    }
  }

  @Test
  void aNewClientGetsCurrentStateThenTheChangesAfterIt() {
    List<Delta> setup = new ArrayList<>();
    for (int i = 0; i < 120; i++) {
      setup.add(in("initial", create(String.format("e%03d", i), doc("i", Integer.toString(i)))));
    }
    server.sync().push(PushRequest.newBuilder().setClientId("seed").addAllDeltas(setup).build());
    server.sync().push(PushRequest.newBuilder().setClientId("seed")
        .addDeltas(in("initial", update("e000", 1, doc("i", "changed"))))
        .addDeltas(in("initial", Delta.newBuilder(io.deltasync.server.testing.Deltas.delete("e001", 1)).build()))
        .build());

    try (StreamClient fresh = new StreamClient(server.channel())) {
      fresh.hello("fresh", "", scope("initial"));
      List<SyncResponse> initial = new ArrayList<>();
      SyncResponse message;
      do {
        message = fresh.await(m -> m.hasChanges(), "initial state");
        initial.add(message);
      } while (message.getChanges().getCursor().isEmpty());

      assertThat(initial).allSatisfy(m -> assertThat(m.getChanges().getPhase())
          .isEqualTo(SyncPhase.SYNC_PHASE_INITIAL_STATE));
      // 119 live entities: a first read of SYNC_BATCH_SIZE = 50, then pages sized by bytes (1 MiB holds the rest).
      assertThat(initial).hasSize(2);
      List<Change> state = initial.stream().flatMap(m -> m.getChanges().getChangesList().stream()).toList();
      assertThat(state).hasSize(119).allSatisfy(c -> assertThat(c.getOperation())
          .isEqualTo(Operation.OPERATION_CREATE));
      assertThat(state).extracting(c -> c.getEntity().getEntityId()).doesNotContain("e001").contains("e000");
      assertThat(state.stream().filter(c -> c.getEntity().getEntityId().equals("e000")).findFirst().orElseThrow()
          .getEntity().getRowVersion()).isEqualTo(2);
      fresh.awaitLive();

      server.sync().push(PushRequest.newBuilder().setClientId("seed")
          .addDeltas(in("initial", update("e002", 1, doc("i", "after")))).build());
      Change after = fresh.awaitChanges(state.size() + 1).getLast();
      assertThat(after.getEntity().getEntityId()).isEqualTo("e002");
      assertThat(after.getOperation()).isEqualTo(Operation.OPERATION_UPDATE);
    }
  }

  @Test
  void badMessagesGetPreciseErrorsAndTheStreamCarriesOn() throws Exception {
    try (StreamClient client = new StreamClient(server.channel())) {
      client.push("early", in("errors", create("too-early", doc("v", "1"))));
      SyncError early = client.await(SyncResponse::hasError, "error for push before hello").getError();
      assertThat(early.getStatus().getCode()).isEqualTo(Code.FAILED_PRECONDITION_VALUE);
      assertThat(reason(early.getStatus())).isEqualTo("PROTOCOL_VIOLATION");
      assertThat(early.getBatchId()).isEqualTo("early");

      client.hello("errors", "", Subscription.newBuilder().setEntityType("9bad").addScopes("ok")
          .addScopes("not ok").build());
      SyncError badHello = client.await(SyncResponse::hasError, "error for bad hello").getError();
      assertThat(badHello.getStatus().getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
      BadRequest fields = badHello.getStatus().getDetailsList().stream().filter(d -> d.is(BadRequest.class))
          .findFirst().orElseThrow().unpack(BadRequest.class);
      assertThat(fields.getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField)
          .containsExactly("hello.subscriptions[0].entity_type", "hello.subscriptions[0].scopes[1]");

      client.hello("errors", "", scope("errors"));
      client.await(SyncResponse::hasWelcome, "welcome after a corrected hello");
      client.send(SyncRequest.getDefaultInstance());
      assertThat(client.await(SyncResponse::hasError, "error for an empty message").getError().getStatus()
          .getMessage()).isEqualTo("message: required: exactly one of hello, push, ack, heartbeat, "
          + "checksum_request");
      client.send(SyncRequest.newBuilder().setAck(io.deltasync.v1.SyncAck.newBuilder().setCursor("nonsense"))
          .build());
      assertThat(reason(client.await(SyncResponse::hasError, "error for a bad ack").getError().getStatus()))
          .isEqualTo("INVALID_CURSOR");
      client.hello("errors", "", scope("errors"));
      assertThat(reason(client.await(SyncResponse::hasError, "error for a second hello").getError()
          .getStatus())).isEqualTo("PROTOCOL_VIOLATION");

      client.push("mixed", in("errors", create("good", doc("v", "1"))),
          in("errors", create("bad", doc("v", "1"))).toBuilder().clearDeltaId().build());
      var results = client.awaitResults("mixed");
      assertThat(results.getResultsList()).extracting(r -> r.getStatus())
          .containsExactly(DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_REJECTED);
      assertThat(results.getResults(1).getError().getMessage()).isEqualTo("deltas[1].delta_id: required");
      client.assertOpen();
    }
  }

  @Test
  void theChecksumMatchesWhatTheClientReceived() throws Exception {
    for (int i = 0; i < 30; i++) {
      server.sync().push(PushRequest.newBuilder().setClientId("seed")
          .addDeltas(in("checked", create("c" + i, doc("v", "1")))).build());
    }
    server.sync().push(PushRequest.newBuilder().setClientId("seed")
        .addDeltas(in("checked", io.deltasync.server.testing.Deltas.delete("c3", 1))).build());
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("checker", "", scope("checked"));
      client.awaitLive();
      server.sync().push(PushRequest.newBuilder().setClientId("seed")
          .addDeltas(in("checked", update("c4", 1, doc("v", "2")))).build());
      client.awaitChanges(30);
      // A write this stream does not receive: the frontier may move past the client's last cursor before the
      // checksum is taken (as any other transaction's end can move it).
      server.sync().push(PushRequest.newBuilder().setClientId("seed")
          .addDeltas(in("unchecked", create("u1", doc("v", "1")))).build());

      client.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope("checked"))
          .build());
      SyncChecksum checksum = client.await(SyncResponse::hasChecksum, "checksum").getChecksum();

      Map<String, Change> copy = new LinkedHashMap<>();
      for (Change change : client.changes()) {
        copy.put(change.getEntity().getEntityType() + "/" + change.getEntity().getEntityId(), change);
      }
      List<Change> live = copy.values().stream().filter(c -> !c.getEntity().getIsDeleted())
          .sorted(Comparator.comparing((Change c) -> c.getEntity().getEntityType())
              .thenComparing(c -> c.getEntity().getEntityId()))
          .toList();
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Change change : live) {
        sha.update((change.getEntity().getEntityType() + "\u001f" + change.getEntity().getEntityId() + "\u001f"
            + change.getEntity().getRowVersion() + "\n").getBytes(StandardCharsets.UTF_8));
      }
      assertThat(checksum.getEntityCount()).isEqualTo(29);
      assertThat(checksum.getDigest()).isEqualTo(HexFormat.of().formatHex(sha.digest()));
      // The checksum is taken at the position the client has reached on this stream: its last cursor, or past it
      // when the feed's frontier has since moved over transactions with nothing for this stream (another
      // transaction finishing moves it; protocol §8). Nothing of the scope may lie in between.
      Cursor received = Cursor.decode(client.cursor()).orElseThrow();
      Cursor checkedAt = Cursor.decode(checksum.getCursor()).orElseThrow();
      assertThat(checkedAt.position()).isGreaterThanOrEqualTo(received.position());
      assertThat(server.sql().fetchCount(server.sql().selectFrom("change_log")
          .where("scope = 'checked' and (tx_id, change_id) > ({0}, {1}) and (tx_id, change_id) <= ({2}, {3})",
              received.txId(), received.changeId(), checkedAt.txId(), checkedAt.changeId())))
          .isZero();

      client.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope("other"))
          .build());
      assertThat(client.await(SyncResponse::hasError, "error for an unsubscribed scope").getError().getStatus()
          .getMessage()).contains("'other' is not one of the subscribed scopes");
    }
  }

  @Test
  void acksAreRecordedForGetStatus() {
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("acker", "", scope("acks"));
      client.awaitLive();
      server.sync().push(PushRequest.newBuilder().setClientId("other")
          .addDeltas(in("acks", create("a1", doc("v", "1")))).build());
      client.awaitChanges(1);
      client.ackReached();
      server.sync().push(PushRequest.newBuilder().setClientId("other")
          .addDeltas(in("acks", create("a2", doc("v", "1")))).build());
      client.awaitChanges(2);

      GetStatusResponse status = null;
      for (int i = 0; i < 100; i++) {  // the ack is applied asynchronously
        status = server.sync().getStatus(GetStatusRequest.newBuilder().setClientId("acker").build());
        if (!status.getClient().getLastAckCursor().isEmpty()) {
          break;
        }
        sleep(50);
      }
      assertThat(status.getClient().getClientId()).isEqualTo("acker");
      assertThat(status.getClient().getLastAckCursor()).isNotEmpty();
      assertThat(status.getClient().getPendingChanges()).isGreaterThanOrEqualTo(1);
      assertThat(status.getClient().hasLastSeenAt()).isTrue();
      assertThat(Cursor.decode(status.getServerCursor())).isPresent();
      assertThat(status.getLimits().getMaxPageSize()).isEqualTo(50);
    }
  }

  @Test
  void aCursorFromAnotherEpochGetsResyncRequiredThenCurrentState() {
    server.sync().push(PushRequest.newBuilder().setClientId("seed")
        .addDeltas(in("resync", create("r1", doc("v", "1")))).build());
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("resyncer", new Cursor(99, 5, 5).encode(), scope("resync"));
      SyncResponse first = client.await(m -> m.hasResyncRequired() || m.hasChanges(), "resync");
      assertThat(first.hasResyncRequired()).isTrue();
      assertThat(first.getResyncRequired().getReason()).startsWith("resync required");
      SyncResponse state = client.await(SyncResponse::hasChanges, "initial state");
      assertThat(state.getChanges().getPhase()).isEqualTo(SyncPhase.SYNC_PHASE_INITIAL_STATE);
      assertThat(state.getChanges().getChangesList()).extracting(c -> c.getEntity().getEntityId())
          .containsExactly("r1");
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void aChecksumRightAfterTheClientsOwnWriteCountsIt() {
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("own-writer", "", scope("own"));
      client.awaitLive();
      client.push("mine", in("own", create("mine", doc("v", "1"))));
      io.deltasync.v1.Entity mine = client.awaitResults("mine").getResults(0).getEntity();

      client.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope("own"))
          .build());
      SyncChecksum checksum = client.await(SyncResponse::hasChecksum, "checksum").getChecksum();

      assertThat(checksum.getEntityCount()).isEqualTo(1);
      assertThat(checksum.getDigest()).isEqualTo(io.deltasync.server.changefeed.ScopeChecksum.digest(List.of(new io.deltasync.server.store.SyncStore
          .EntityVersion("note", "mine", mine.getRowVersion()))));
    }
  }

  @Test
  void theChecksumTakesTheHighestVersionWhenWritersCommittedOutOfOrder() throws Exception {
    server.sync().push(PushRequest.newBuilder().setClientId("seed")
        .addDeltas(in("order", create("o1", doc("v", "1")))).build());
    try (var a = server.database().dataSource().getConnection();
        var b = server.database().dataSource().getConnection()) {
      a.setAutoCommit(false);
      b.setAutoCommit(false);
      // A takes its transaction id first, B then writes version 2 and commits, A writes version 3 after it.
      a.createStatement().execute("insert into entity (scope, entity_type, entity_id) values ('order', 'note', 'o2')");
      b.createStatement().execute("update entity set data = '{\"v\": \"2\"}' where entity_id = 'o1'");
      b.commit();
      a.createStatement().execute("update entity set data = '{\"v\": \"3\"}' where entity_id = 'o1'");
      a.commit();
    }
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("order-checker", "", scope("order"));
      client.awaitLive();
      client.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope("order"))
          .build());
      SyncChecksum checksum = client.await(SyncResponse::hasChecksum, "checksum").getChecksum();
      assertThat(checksum.getDigest()).isEqualTo(io.deltasync.server.changefeed.ScopeChecksum.digest(List.of(
          new io.deltasync.server.store.SyncStore.EntityVersion("note", "o1", 3),
          new io.deltasync.server.store.SyncStore.EntityVersion("note", "o2", 1))));
    }
  }

  @Test
  void aClientThatPushesWithoutReadingCannotMakeTheServerQueueAnswers() throws Exception {
    try (StreamClient pusher = new StreamClient(server.channel(), false)) {
      pusher.hello("pusher", "", scope("no-read"));
      for (int i = 0; i < 300; i++) {
        pusher.push("p" + i, in("no-read", create("n" + i, doc("v", "x".repeat(8_000)))));
      }
      Thread.sleep(1_000);
      SyncSession.Stats stats = server.server().sessions().stats().stream()
          .filter(st -> st.clientId().equals("pusher")).findFirst().orElseThrow();
      assertThat(stats.maxQueuedMessages()).isLessThanOrEqualTo(10);
      long applied = server.sql().fetchCount(server.sql().selectFrom("entity").where("scope = 'no-read'"));
      assertThat(applied).as("the server stops reading pushes it cannot answer").isLessThan(300);

      pusher.startReading();
      for (int i = 0; i < 300; i++) {
        pusher.awaitResults("p" + i);
      }
      assertThat(server.sql().fetchCount(server.sql().selectFrom("entity").where("scope = 'no-read'")))
          .isEqualTo(300);
    }
  }

  @Test
  void initialStateComesInTheOrderOfTheSubscriptions() {
    List<Delta> setup = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      Delta delta = in("prio", create("item-" + i, doc("i", Integer.toString(i))));
      setup.add(i % 3 == 0 ? delta.toBuilder().setEntityType("task").build() : delta);
    }
    server.sync().push(PushRequest.newBuilder().setClientId("seed").addAllDeltas(setup).build());

    try (StreamClient client = new StreamClient(server.channel())) {
      // Tasks first (say, what the first screen shows), then everything else in the scope.
      client.hello("prioritized", "", Subscription.newBuilder().setEntityType("task").addScopes("prio").build(),
          scope("prio"));
      client.awaitLive();
      List<String> types = client.changes().stream().map(c -> c.getEntity().getEntityType()).toList();
      assertThat(types).hasSize(60);
      assertThat(types.subList(0, 20)).containsOnly("task");
      assertThat(types.subList(20, 60)).containsOnly("note");
      assertThat(client.changes()).extracting(c -> c.getEntity().getEntityId()).doesNotHaveDuplicates();
    }
  }
}

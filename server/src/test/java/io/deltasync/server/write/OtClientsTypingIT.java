package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.EditPath;
import io.deltasync.server.ot.InvalidOperationException;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.ot.Side;
import io.deltasync.server.ot.TextComponent;
import io.deltasync.server.ot.UntransformableException;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two clients typing into one field over Sync streams, each following the client algorithm of docs/protocol.md
 * ("Operational transform: edits in flight"): one delta in flight per entity, incoming changes of the entity buffered
 * while it is, {@code rebase_edits} applied on the result, buffered changes at or below the result's version dropped.
 * Both end with the server's text. The interleaving is whatever the streams deliver; the typing is seeded.
 */
class OtClientsTypingIT {
  private static final String SCOPE = "typing";
  private static final String ID = "pad";
  private static final EditPath FIELD = EditPath.of("text");
  private static final String[] CHARACTERS = {"a", "b", "c", "é", "😀"};

  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);

  @Test
  void twoClientsTypingIntoOneFieldEndWithTheServersText() throws Exception {
    long seed = Long.getLong("deltasync.ot.seed", ThreadLocalRandom.current().nextLong());
    System.out.println("OtClientsTypingIT seed=" + seed);
    Random random = new Random(seed);
    Struct start = Struct.newBuilder().putFields("text", string("hello")).build();
    DeltaResult created = server.sync().push(PushRequest.newBuilder().setClientId("setup").addDeltas(
        Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(ID)
            .setScope(SCOPE).setOperation(Operation.OPERATION_CREATE).setData(start)).build()).getResults(0);
    assertThat(created.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

    try (OtClient alice = new OtClient("alice", start, created.getEntity().getRowVersion());
        OtClient bob = new OtClient("bob", start, created.getEntity().getRowVersion())) {
      for (int round = 0; round < 60; round++) {
        for (OtClient client : List.of(alice, bob)) {
          client.type(random);
          client.pushIfIdle();
        }
        // Sometimes wait for one message, so that changes and results interleave in every way over the run.
        OtClient reader = random.nextBoolean() ? alice : bob;
        if (reader.inFlight != null && random.nextInt(3) == 0) {
          reader.handleNext();
        }
        alice.handleAvailable();
        bob.handleAvailable();
      }
      alice.finish();
      bob.finish();

      // Both are done: the last write is one of theirs, and its writer holds its version.
      long version = Math.max(alice.version, bob.version);
      alice.catchUpTo(version);
      bob.catchUpTo(version);
      Change latest = latest(ID);
      assertThat(latest.getEntity().getRowVersion()).isEqualTo(version);

      String text = latest.getEntity().getData().getFieldsOrThrow("text").getStringValue();
      assertThat(alice.merges + bob.merges).as("seed=%d: the clients' edits met concurrently", seed).isPositive();
      assertThat(alice.text()).as("seed=%d alice", seed).isEqualTo(text);
      assertThat(bob.text()).as("seed=%d bob", seed).isEqualTo(text);
      assertThat(alice.pending).isEmpty();
      assertThat(bob.pending).isEmpty();
    }
  }

  @Test
  void aChangeThatArrivesWhileTheEditIsInFlightIsAppliedOnceThroughRebaseEdits() throws Exception {
    String id = "race";
    Struct start = Struct.newBuilder().putFields("text", string("hello")).build();
    long base = server.sync().push(PushRequest.newBuilder().setClientId("setup").addDeltas(
        Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
            .setScope(SCOPE).setOperation(Operation.OPERATION_CREATE).setData(start)).build()).getResults(0)
        .getEntity().getRowVersion();

    try (OtClient bob = new OtClient("bob", id, start, base)) {
      // Bob types "!" at the end; his delta goes out (unary Push, so the test decides when he reads its result).
      bob.pending = List.of(new Edit.Text(FIELD, List.of(TextComponent.retain(5), TextComponent.insert("!"))));
      bob.inFlight = bob.pending;
      bob.pending = List.of();
      // Meanwhile Alice's change (typing "X" at the start) commits first, so Bob's delta is merged past it.
      DeltaResult alice = server.sync().push(PushRequest.newBuilder().setClientId("alice").addDeltas(
          Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
              .setScope(SCOPE).setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(base)
              .addAllEdits(OperationCodec.toProto(List.of(new Edit.Text(FIELD, List.of(TextComponent.insert("X"))))))
          ).build()).getResults(0);
      DeltaResult result = server.sync().push(PushRequest.newBuilder().setClientId("bob").addDeltas(
          Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
              .setScope(SCOPE).setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(base)
              .addAllEdits(OperationCodec.toProto(bob.inFlight))).build()).getResults(0);
      assertThat(result.getRebaseEditsList()).as("merged past Alice's change").isNotEmpty();

      // Alice's change reaches Bob's stream before he reads his result: it is buffered, not applied.
      while (!bob.buffered.containsKey(alice.getEntity().getRowVersion())) {
        bob.handleNext();
      }
      assertThat(bob.text()).isEqualTo("hello!");
      // What docs/protocol.md used to lead to: apply her change, then the rebase edits, which contain it again.
      Struct applyBoth = OtClient.apply(OtClient.apply(OtClient.apply(start, bob.inFlight),
          OperationCodec.fromProto(bob.buffered.firstEntry().getValue().getEditsList())),
          OperationCodec.fromProto(result.getRebaseEditsList()));
      assertThat(applyBoth.getFieldsOrThrow("text").getStringValue()).isEqualTo("XXhello!");

      bob.onResult(result);
      assertThat(bob.buffered).as("the buffered change is in the result already: dropped").isEmpty();
      assertThat(bob.text()).isEqualTo("Xhello!")
          .isEqualTo(result.getEntity().getData().getFieldsOrThrow("text").getStringValue());
    }
  }

  /** The server's newest change of entity {@code id}, read with Pull page by page. */
  private static Change latest(String id) {
    Change latest = null;
    String cursor = "";
    while (true) {
      PullResponse page = server.sync().pull(PullRequest.newBuilder().addScopes(SCOPE).setCursor(cursor)
          .setPageSize(100).build());
      for (Change change : page.getChangesList()) {
        if (change.getEntity().getEntityId().equals(id)
            && (latest == null || change.getEntity().getRowVersion() > latest.getEntity().getRowVersion())) {
          latest = change;
        }
      }
      if (!page.getHasMore() || page.getChangesCount() == 0) {
        return latest;
      }
      cursor = page.getNextCursor();
    }
  }

  private static Value string(String text) {
    return Value.newBuilder().setStringValue(text).build();
  }

  /** A client that keeps OT state for one entity, as docs/protocol.md describes. */
  private static final class OtClient implements AutoCloseable {
    final String clientId;
    final String id;
    final StreamClient stream;
    /** The server's document at {@link #version}, as far as this client knows. */
    Struct confirmed;
    long version;
    /** The edits pushed and not yet answered (at most one delta in flight), or null. */
    List<Edit> inFlight;
    String inFlightBatch;
    /** Local edits not yet pushed, composed into one list; they apply after {@link #inFlight}. */
    List<Edit> pending = List.of();
    /** Changes of the entity received while a delta was in flight (or ahead of a gap), by row_version. */
    final TreeMap<Long, Change> buffered = new TreeMap<>();
    int batches;
    int merges;

    OtClient(String clientId, Struct document, long version) {
      this(clientId, ID, document, version);
    }

    OtClient(String clientId, String id, Struct document, long version) {
      this.clientId = clientId;
      this.id = id;
      this.confirmed = document;
      this.version = version;
      this.stream = new StreamClient(server.channel());
      stream.hello(clientId, "", Subscription.newBuilder().addScopes(SCOPE).build());
      stream.awaitLive();
    }

    /** What the user sees: the server's document, then the edit in flight, then the pending edits. */
    Struct display() {
      return apply(apply(confirmed, inFlight == null ? List.of() : inFlight), pending);
    }

    String text() {
      return display().getFieldsOrThrow("text").getStringValue();
    }

    /** Types or deletes a little at a random place of what the user sees. */
    void type(Random random) {
      String text = text();
      int length = text.codePointCount(0, text.length());
      int at = random.nextInt(length + 1);
      List<TextComponent> components = new ArrayList<>();
      if (at > 0) {
        components.add(TextComponent.retain(at));
      }
      if (at < length && random.nextInt(3) == 0) {
        components.add(TextComponent.delete(1));
      } else {
        components.add(TextComponent.insert(CHARACTERS[random.nextInt(CHARACTERS.length)]));
      }
      pending = OperationalTransform.compose(pending, List.of(new Edit.Text(FIELD, components)));
    }

    /** Pushes the pending edits, based on the confirmed version, unless a delta of the entity is in flight. */
    void pushIfIdle() {
      if (inFlight != null || pending.isEmpty()) {
        return;
      }
      inFlight = pending;
      pending = List.of();
      inFlightBatch = clientId + "-" + ++batches;
      stream.push(inFlightBatch, Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId(id).setScope(SCOPE).setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(version)
          .addAllEdits(OperationCodec.toProto(inFlight)).build());
    }

    void handleAvailable() throws Exception {
      for (SyncResponse message : stream.drainReceived()) {
        handle(message);
      }
    }

    void handleNext() throws Exception {
      handle(stream.await(m -> m.hasChanges() || m.hasPushResults(), clientId + ": a change or a push result"));
    }

    private void handle(SyncResponse message) throws Exception {
      if (message.hasPushResults() && message.getPushResults().getBatchId().equals(inFlightBatch)) {
        onResult(message.getPushResults().getResults(0));
      }
      if (message.hasChanges()) {
        for (Change change : message.getChanges().getChangesList()) {
          if (change.getEntity().getEntityId().equals(id)) {
            buffered.put(change.getEntity().getRowVersion(), change);
          }
        }
        applyBuffered();
      }
    }

    /** The result of the delta in flight: rebase, then drop what the result already contains. */
    void onResult(DeltaResult result) throws Exception {
      assertThat(result.getStatus()).as("%s: %s", clientId, result).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      Struct mine = apply(confirmed, inFlight);
      if (result.getResolution().getPolicy() == ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM) {
        // Merged: the rebase edits bring our document (base + our edits) to the server's. Our pending edits were
        // made after the in-flight ones, so they move past the rebase edits (the server never sees this pair).
        List<Edit> rebase = OperationCodec.fromProto(result.getRebaseEditsList());
        confirmed = apply(mine, rebase);
        pending = OperationalTransform.transform(pending, rebase, Side.LEFT);
        merges++;
      } else {
        confirmed = mine; // applied at its base
      }
      assertThat(confirmed).as("%s: base + own edits + rebase_edits = the result's document", clientId)
          .isEqualTo(result.getEntity().getData());
      version = result.getEntity().getRowVersion();
      inFlight = null;
      inFlightBatch = null;
      applyBuffered();
    }

    /** Applies buffered changes in row_version order while nothing is in flight; drops those already held. */
    private void applyBuffered() throws UntransformableException, InvalidOperationException {
      buffered.headMap(version, true).clear();
      while (inFlight == null && !buffered.isEmpty() && buffered.firstKey() == version + 1) {
        Change change = buffered.pollFirstEntry().getValue();
        List<Edit> edits = OperationCodec.fromProto(change.getEditsList());
        confirmed = apply(confirmed, edits);
        assertThat(confirmed).as("%s: the change's edits give its document", clientId)
            .isEqualTo(change.getEntity().getData());
        pending = OperationalTransform.transform(pending, edits, Side.byClientId(clientId, change.getClientId()));
        version = change.getEntity().getRowVersion();
      }
    }

    /** Pushes what is left and waits until nothing is in flight or pending. */
    void finish() throws Exception {
      while (inFlight != null || !pending.isEmpty()) {
        pushIfIdle();
        handleNext();
      }
    }

    /** Waits for the changes up to {@code target}. */
    void catchUpTo(long target) throws Exception {
      while (version < target) {
        handleNext();
      }
    }

    static Struct apply(Struct document, List<Edit> edits) {
      try {
        return OperationalTransform.apply(document, edits);
      } catch (InvalidOperationException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public void close() {
      stream.close();
    }
  }
}

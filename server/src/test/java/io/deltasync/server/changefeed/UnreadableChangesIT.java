package io.deltasync.server.changefeed;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jooq.DSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Rows the server cannot carry, written by plain SQL, never stall delivery: conflict_data that is JSON null, a
 * document nested 200 levels, a document larger than a message. Each is delivered degraded — identity, version and
 * etag, no documents, and a reason — by the live feed, Pull, catch-up and the initial state, and the changes after
 * them arrive as usual. The clients here accept exactly the advertised message limit, as a careful client does.
 */
class UnreadableChangesIT {
  private static final int MAX_MESSAGE_BYTES = 64 * 1024;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withLimits(
      new ServerConfig.Limits(500, 16 * 1024, 50, MAX_MESSAGE_BYTES)));

  private static ManagedChannel channel;

  @BeforeAll
  static void openChannel() {
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES).build();
  }

  @AfterAll
  static void closeChannel() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static final Subscription TEAM_A = Subscription.newBuilder().addScopes("team-a").build();

  /** What each change of the scope is, in commit order: its entity id and its degradation reason ("" if none). */
  private static final List<String> EXPECTED = List.of("ok-1 ", "null-conflict ",
      "null-conflict UNREADABLE_CHANGE", "deep UNREADABLE_CHANGE", "big CHANGE_TOO_LARGE", "ok-2 ");

  private static String reason(Change change) {
    for (var detail : change.getDegraded().getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        try {
          return detail.unpack(ErrorInfo.class).getReason();
        } catch (InvalidProtocolBufferException e) {
          throw new AssertionError(e);
        }
      }
    }
    return "";
  }

  private static List<String> described(List<Change> changes) {
    return changes.stream().map(c -> c.getEntity().getEntityId() + " " + reason(c)).toList();
  }

  /**
   * Rows as plain SQL could write them before V6__guard_documents.sql. Its guards are NOT VALID (old rows stay),
   * and they refuse such writes now (DocumentGuardsIT), so this database drops them to write the rows an older
   * database may still hold.
   */
  private static void writeRowsTheServerCannotCarry() {
    DSLContext sql = server.sql();
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_conflict_data_is_object");
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_data_fits");
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) "
        + "VALUES ('team-a', 'note', 'null-conflict', '{\"t\": 1}')");
    sql.execute("UPDATE entity SET conflict_data = 'null'::jsonb WHERE entity_id = 'null-conflict'");
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('team-a', 'note', 'deep', "
        + "(repeat('{\"n\": ', 199) || '{}' || repeat('}', 199))::jsonb)");
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('team-a', 'note', 'big', "
        + "jsonb_build_object('text', repeat('x', 200000)))");
  }

  @Test
  void everyReaderDeliversThemDegradedAndGoesOn() {
    String start = Cursor.start(server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class))
        .encode();
    try (StreamClient live = new StreamClient(channel)) {
      live.hello("live-reader", "", TEAM_A);
      live.awaitLive();

      server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("ok-1", doc("t", "1")))
          .build());
      writeRowsTheServerCannotCarry();
      server.sync().push(PushRequest.newBuilder().setClientId("writer").addDeltas(create("ok-2", doc("t", "2")))
          .build());

      // The live feed.
      List<Change> delivered = live.awaitChanges(EXPECTED.size());
      assertThat(described(delivered)).containsExactlyElementsOf(EXPECTED);
      live.assertOpen();
      assertDegradedCarryIdentityButNoDocuments(delivered);
    }

    // Pull, page by page, with a client that accepts exactly the advertised message size.
    List<Change> pulled = new ArrayList<>();
    String cursor = start;
    PullResponse page;
    do {
      page = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
          .pull(PullRequest.newBuilder().setCursor(cursor).addScopes("team-a").build());
      pulled.addAll(page.getChangesList());
      cursor = page.getNextCursor();
    } while (page.getHasMore());
    assertThat(described(pulled)).containsExactlyElementsOf(EXPECTED);
    assertDegradedCarryIdentityButNoDocuments(pulled);

    // Catch-up from the start of the log.
    try (StreamClient resumed = new StreamClient(channel)) {
      resumed.hello("catching-up", start, TEAM_A);
      List<Change> caughtUp = resumed.awaitChanges(EXPECTED.size());
      assertThat(described(caughtUp)).containsExactlyElementsOf(EXPECTED);
      resumed.awaitLive();
      resumed.assertOpen();
    }

    // The initial state: the current entities, in key order.
    try (StreamClient fresh = new StreamClient(channel)) {
      fresh.hello("fresh", "", TEAM_A);
      fresh.awaitLive();
      List<Change> initial = fresh.changes().stream()
          .filter(c -> !c.getEntity().getEntityId().isEmpty()).toList();
      assertThat(described(initial)).containsExactly("big CHANGE_TOO_LARGE", "deep UNREADABLE_CHANGE",
          "null-conflict UNREADABLE_CHANGE", "ok-1 ", "ok-2 ");
      fresh.assertOpen();
    }

    assertThat(server.server().degradedChanges()).isGreaterThanOrEqualTo(3);
  }

  private static void assertDegradedCarryIdentityButNoDocuments(List<Change> changes) {
    for (Change change : changes) {
      if (change.hasDegraded()) {
        assertThat(change.getCursor()).isNotEmpty();
        assertThat(change.getEntity().getRowVersion()).isPositive();
        assertThat(change.getEntity().getEtag()).startsWith(change.getEntity().getRowVersion() + "-");
        assertThat(change.getEntity().hasData()).isFalse();
        assertThat(change.getEntity().hasConflictData()).isFalse();
        assertThat(change.getDegraded().getMessage()).isNotEmpty();
      } else {
        assertThat(change.getEntity().hasData()).isTrue();
      }
    }
  }
}

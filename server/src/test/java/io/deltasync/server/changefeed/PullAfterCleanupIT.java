package io.deltasync.server.changefeed;

import static io.deltasync.server.testing.Credentials.claims;
import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.OpsConfig;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.ops.Cleanup;
import io.deltasync.server.store.CleanupStore;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncAck;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Pull from an empty cursor once clean-up has purged the start of the change log: a Pull-only client (a backend
 * replicating data) gets the current state in pages, then the change log after the point the download started,
 * instead of a resync it could never get past. Each test writes in its own scope and purges with a clock moved past
 * the change-log retention.
 */
class PullAfterCleanupIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET)))
      .withOps(config.ops().withCleanup(Duration.ZERO, 1_000)));

  /** A credential for every scope (role admin). */
  private static Channel admin() {
    return Credentials.bearer(server.channel(), Credentials.hs256(claims("ops", List.of("admin"), List.of())
        .build()));
  }

  private static Channel tenant(String sub, String scope) {
    return Credentials.bearer(server.channel(), Credentials.hs256(claims(sub, List.of("writer"), List.of(scope))
        .build()));
  }

  private static SyncServiceGrpc.SyncServiceBlockingStub stub(Channel channel) {
    return SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  private static Entity push(Channel as, String scope, Delta delta) {
    var result = stub(as).push(PushRequest.newBuilder().setClientId("writer")
        .addDeltas(delta.toBuilder().setScope(scope)).build()).getResults(0);
    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    return result.getEntity();
  }

  /** Clean-up as the schedule runs it, 31 days from now: every change-log entry and tombstone is past retention. */
  private static void purgeEverything() {
    var sql = server.sql();
    Cleanup.Report report = new Cleanup(new CleanupStore(sql), new SyncStore(sql),
        () -> server.database().dataSource().getConnection(), Cleanup.Retention.of(Duration.ofDays(30),
        OpsConfig.defaults()), 1_000, Clock.offset(Clock.systemUTC(), Duration.ofDays(31)), new SimpleMeterRegistry())
        .run(false);
    assertThat(report.ran()).isTrue();
    assertThat(server.sql().fetchOne("select count(*) from change_log").get(0, Long.class)).isZero();
  }

  private static PullResponse pull(Channel as, String cursor, int pageSize, String... scopes) {
    return stub(as).pull(PullRequest.newBuilder().setCursor(cursor).setPageSize(pageSize)
        .addAllScopes(List.of(scopes)).build());
  }

  /** Whether a wire cursor is a plain change-log cursor (not a position inside an initial state). */
  private static boolean inChangeLog(String cursor) {
    return Cursor.decode(cursor).isPresent();
  }

  /**
   * Pulls the initial state from an empty cursor, page by page, until the page that hands over to the change log;
   * {@code afterFirstPage} runs once the first page is in. Returns the changes and the hand-over cursor.
   */
  private static Downloaded download(Channel as, int pageSize, Runnable afterFirstPage, String... scopes) {
    List<Change> changes = new ArrayList<>();
    PullResponse page = pull(as, "", pageSize, scopes);
    afterFirstPage.run();
    while (true) {
      assertThat(page.getChangesCount()).isLessThanOrEqualTo(pageSize);
      assertThat(page.getHasMore()).isTrue();
      for (Change change : page.getChangesList()) {
        assertThat(change.getOperation()).isEqualTo(Operation.OPERATION_CREATE);
        assertThat(change.getCursor()).isNotEmpty();
        assertThat(inChangeLog(change.getCursor())).as("a change of the initial state continues in it").isFalse();
      }
      changes.addAll(page.getChangesList());
      if (inChangeLog(page.getNextCursor())) {
        return new Downloaded(changes, page.getNextCursor());
      }
      assertThat(page.getNextCursor()).isEqualTo(page.getChanges(page.getChangesCount() - 1).getCursor());
      page = pull(as, page.getNextCursor(), pageSize, scopes);
    }
  }

  record Downloaded(List<Change> changes, String handOver) {}

  /** Pulls every page after {@code cursor}. */
  private static List<Change> pullAll(Channel as, String cursor, String... scopes) {
    List<Change> all = new ArrayList<>();
    PullResponse page;
    do {
      page = pull(as, cursor, 10, scopes);
      all.addAll(page.getChangesList());
      cursor = page.getNextCursor();
    } while (page.getHasMore());
    return all;
  }

  /** What a client holds after applying {@code changes} by row_version: the live entities by id. */
  private static Map<String, Entity> applied(List<Change> changes) {
    Map<String, Entity> held = new HashMap<>();
    for (Change change : changes) {
      Entity entity = change.getEntity();
      Entity had = held.get(entity.getEntityId());
      if (had == null || entity.getRowVersion() > had.getRowVersion()) {
        held.put(entity.getEntityId(), entity);
      }
    }
    held.values().removeIf(Entity::getIsDeleted);
    return held;
  }

  private static Map<String, Long> liveVersions(String scope) {
    return server.sql().fetch("select entity_id, row_version from entity where scope = ? and not is_deleted", scope)
        .stream().collect(Collectors.toMap(r -> r.get(0, String.class), r -> r.get(1, Long.class)));
  }

  private static ErrorInfo errorInfo(StatusRuntimeException e) {
    return StatusProto.fromThrowable(e).getDetailsList().stream().filter(any -> any.is(ErrorInfo.class))
        .map(any -> {
          try {
            return any.unpack(ErrorInfo.class);
          } catch (InvalidProtocolBufferException x) {
            throw new AssertionError(x);
          }
        }).findFirst().orElseThrow();
  }

  private static Consumer<StatusRuntimeException> refused(Code code, String reason) {
    return e -> {
      assertThat(StatusProto.fromThrowable(e).getCode()).isEqualTo(code.getNumber());
      assertThat(errorInfo(e).getReason()).isEqualTo(reason);
    };
  }

  @Test
  void anEmptyCursorAfterAPurgeDownloadsTheLiveEntitiesOnceThenContinuesWithTheChangeLog() {
    String scope = "bootstrap";
    Channel as = admin();
    for (int i = 0; i < 7; i++) {
      push(as, scope, create("e" + i, doc("i", Integer.toString(i))));
    }
    push(as, scope, delete("e5", 1));
    purgeEverything();
    // Deleted after the purge: its tombstone is still in the entity table, and must not be sent either.
    push(as, scope, delete("e6", 1));
    assertThat(server.sql().fetchOne("select count(*) from entity where scope = ? and entity_id = 'e5'", scope)
        .get(0, Long.class)).as("e5's tombstone is purged").isZero();

    Downloaded state = download(as, 2, () -> {
      // After the download began: an entity created before the page position (ids sort "a-…" < "e…"), and an update
      // of one already delivered. Neither is in the pages; both come from the change log after the hand-over.
      push(as, scope, create("a-late", doc("i", "late")));
      push(as, scope, update("e0", 1, doc("i", "0 again")));
    }, scope);

    assertThat(state.changes()).extracting(c -> c.getEntity().getEntityId())
        .containsExactly("e0", "e1", "e2", "e3", "e4");
    assertThat(state.changes()).extracting(c -> c.getEntity().getScope()).containsOnly(scope);
    assertThat(state.changes().getFirst().getEntity().getRowVersion()).isEqualTo(1);

    List<Change> log = pullAll(as, state.handOver(), scope);
    assertThat(log).extracting(c -> c.getEntity().getEntityId()).contains("a-late", "e0");
    assertThat(log).allSatisfy(c -> assertThat(inChangeLog(c.getCursor())).isTrue());

    List<Change> everything = new ArrayList<>(state.changes());
    everything.addAll(log);
    assertThat(applied(everything)).hasSize(6).allSatisfy((id, entity) ->
        assertThat(entity.getRowVersion()).as(id).isEqualTo(liveVersions(scope).get(id)));
    assertThat(applied(everything).keySet()).isEqualTo(liveVersions(scope).keySet());
  }

  @Test
  void aTenantRestrictedToOneScopeDownloadsOnlyThatScope() {
    Channel alice = tenant("alice", "tenant-a");
    Channel bob = tenant("bob", "tenant-b");
    for (int i = 0; i < 3; i++) {
      push(alice, "tenant-a", create("a" + i, doc("i", Integer.toString(i))));
      push(bob, "tenant-b", create("b" + i, doc("i", Integer.toString(i))));
    }
    purgeEverything();

    // No scopes named: everything the credential may read, and no more.
    Downloaded aliceState = download(alice, 2, () -> { });
    assertThat(aliceState.changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("a0", "a1", "a2");
    assertThat(pullAll(alice, aliceState.handOver())).isEmpty();
    Downloaded bobState = download(bob, 2, () -> { }, "tenant-b");
    assertThat(bobState.changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("b0", "b1", "b2");
  }

  @Test
  void aPurgeDuringTheDownloadIsAnsweredWithResyncAndTheNextDownloadSucceeds() {
    String scope = "overtaken";
    Channel as = admin();
    for (int i = 0; i < 5; i++) {
      push(as, scope, create("r" + i, doc("i", Integer.toString(i))));
    }
    purgeEverything();

    PullResponse first = pull(as, "", 2, scope);
    assertThat(first.getChangesList()).extracting(c -> c.getEntity().getEntityId()).containsExactly("r0", "r1");
    // Written after the download began, then purged: the log after the download's start is no longer whole.
    push(as, scope, delete("r4", 1));
    purgeEverything();

    assertThatThrownBy(() -> pull(as, first.getNextCursor(), 2, scope))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            refused(Code.FAILED_PRECONDITION, "RESYNC_REQUIRED"));
    // Starting again is no loop: the new download begins after the purge.
    Downloaded again = download(as, 2, () -> { }, scope);
    assertThat(again.changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("r0", "r1", "r2", "r3");
    assertThat(pullAll(as, again.handOver(), scope)).isEmpty();
  }

  @Test
  void aTamperedOrTruncatedInitialStateCursorIsInvalid() {
    String scope = "tampered";
    Channel as = admin();
    for (int i = 0; i < 3; i++) {
      push(as, scope, create("t" + i, doc("i", Integer.toString(i))));
    }
    purgeEverything();
    String cursor = pull(as, "", 1, scope).getNextCursor();
    assertThat(inChangeLog(cursor)).isFalse();

    // The key of the last entity delivered, replaced by another: the check value no longer matches.
    String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
    String[] parts = text.split("\\.", -1);
    parts[7] = Base64.getUrlEncoder().withoutPadding().encodeToString("t1".getBytes(StandardCharsets.UTF_8));
    String tampered = Base64.getUrlEncoder().withoutPadding().encodeToString(String.join(".", parts)
        .getBytes(StandardCharsets.US_ASCII));
    String truncated = cursor.substring(0, cursor.length() - 4);
    for (String bad : List.of(tampered, truncated)) {
      assertThatThrownBy(() -> pull(as, bad, 1, scope))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            refused(Code.INVALID_ARGUMENT, "INVALID_CURSOR").accept(e);
            assertThat(StatusProto.fromThrowable(e).getDetailsList().stream().filter(d -> d.is(BadRequest.class))
                .findFirst().orElseThrow().toString()).contains("cursor");
          });
    }
    // The cursor as handed out still continues.
    assertThat(pull(as, cursor, 1, scope).getChangesList()).extracting(c -> c.getEntity().getEntityId())
        .containsExactly("t1");
  }

  @Test
  void theSyncStreamAnswersAnInitialStateCursorWithResyncAndAcceptsItAsAnAck() {
    String scope = "streamed";
    Channel as = admin();
    push(as, scope, create("s0", doc("i", "0")));
    push(as, scope, create("s1", doc("i", "1")));
    purgeEverything();
    String partial = pull(as, "", 1, scope).getNextCursor();
    assertThat(inChangeLog(partial)).isFalse();

    Subscription subscription = Subscription.newBuilder().addScopes(scope).build();
    try (StreamClient phone = new StreamClient(as)) {
      // A hello with it: the stream cannot continue a Pull's download, so resync, then its own initial state.
      phone.hello("phone", partial, subscription);
      SyncResponse first = phone.await(m -> m.hasResyncRequired() || m.hasChanges() || m.hasError(), "resync");
      assertThat(first.hasResyncRequired()).isTrue();
      assertThat(first.getResyncRequired().getReason()).contains("initial state");
      SyncResponse state = phone.await(SyncResponse::hasChanges, "initial state");
      assertThat(state.getChanges().getPhase()).isEqualTo(SyncPhase.SYNC_PHASE_INITIAL_STATE);
      phone.awaitLive();
      assertThat(phone.changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("s0", "s1");

      // An ack of it is no error (it acknowledges no change-log position): the push after it is answered first.
      phone.send(SyncRequest.newBuilder().setAck(SyncAck.newBuilder().setCursor(partial)).build());
      phone.push("after-ack", create("s2", doc("i", "2")).toBuilder().setScope(scope).build());
      SyncResponse next = phone.await(m -> m.hasError() || m.hasPushResults(), "push results");
      assertThat(next.hasPushResults()).as("%s", next).isTrue();
      phone.assertOpen();
    }
  }

  @Test
  void aPageOfLargeDocumentsIsCutBelowOneMessageAndContinuesAfterItsLastEntity() {
    String scope = "large";
    Channel as = admin();
    int documents = 20;
    for (int i = 0; i < documents; i++) {
      push(as, scope, create(String.format("d%02d", i), Struct.newBuilder().putFields("text", Value.newBuilder()
          .setStringValue("x".repeat(240 * 1024)).build()).build()));
    }
    purgeEverything();

    // Page size 0 = SYNC_BATCH_SIZE (50): twenty documents of 240 KiB do not fit in one 4 MiB message.
    PullResponse first = pull(as, "", 0, scope);
    assertThat(first.getSerializedSize()).isLessThan(4 * 1024 * 1024);
    assertThat(first.getChangesCount()).isBetween(1, documents - 1);
    assertThat(first.getHasMore()).isTrue();
    assertThat(first.getNextCursor()).isEqualTo(first.getChanges(first.getChangesCount() - 1).getCursor());
    Downloaded state = download(as, 50, () -> { }, scope);
    assertThat(state.changes()).extracting(c -> c.getEntity().getEntityId()).doesNotHaveDuplicates()
        .hasSize(documents);
  }
}

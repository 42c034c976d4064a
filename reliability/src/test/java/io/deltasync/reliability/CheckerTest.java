package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncPhase;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The checker's per-session rules catch what they are meant to, so a green chaos run means something. */
class CheckerTest {
  private static History.Delivered at(long version, SyncPhase phase) {
    return new History.Delivered("c", 1, Change.newBuilder().setEntity(Entity.newBuilder().setScope("s")
        .setEntityType("t").setEntityId("e").setRowVersion(version)).build(), phase);
  }

  /** A change log where version v was committed at position (v, v): row_version order is commit order. */
  private static Map<Long, long[]> inOrder(long... versions) {
    Map<Long, long[]> log = new java.util.HashMap<>();
    for (long v : versions) {
      log.put(v, new long[] {v, v});
    }
    return log;
  }

  @Test
  void aSkippedVersionIsReportedUnlessTheSessionLearntItFromItsOwnPushResult() {
    Checker checker = new Checker();
    checker.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(5, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(), inOrder(3, 4, 5));
    assertThat(checker.violations()).singleElement().asString().contains("version 4 skipped");

    Checker own = new Checker();
    own.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(5, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(4L), inOrder(3, 4, 5));
    assertThat(own.violations()).isEmpty();

    Checker neverWritten = new Checker();
    neverWritten.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(5, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(), inOrder(3, 5));
    assertThat(neverWritten.violations()).as("version 4 has no change-log row").isEmpty();
  }

  @Test
  void aVersionDeliveredTwiceIsReportedButTheSeamAfterTheInitialStateIsCounted() {
    Checker checker = new Checker();
    checker.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(3, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(), inOrder(3));
    assertThat(checker.violations()).singleElement().asString().contains("delivered twice");

    Checker seam = new Checker();
    int counted = seam.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_INITIAL_STATE),
        at(3, SyncPhase.SYNC_PHASE_CATCH_UP), at(4, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), inOrder(3, 4));
    assertThat(seam.violations()).isEmpty();
    assertThat(counted).isEqualTo(1);
  }

  @Test
  void versionsOutOfOrderButAllPresentAreNotASkip() {
    Checker checker = new Checker();
    Map<Long, long[]> log = Map.of(2L, new long[] {10, 1}, 3L, new long[] {30, 3}, 4L, new long[] {20, 4});
    checker.checkSession("1|s/t/e", List.of(at(2, SyncPhase.SYNC_PHASE_LIVE), at(4, SyncPhase.SYNC_PHASE_LIVE),
        at(3, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), log);
    assertThat(checker.violations()).isEmpty();
  }

  /**
   * The two-node chaos run (seed 2999835243077694858): version 10 was written by a batch transaction with an older
   * transaction id than versions 8 and 9 (it waited for their row lock), so its position comes first. A client that
   * had received it on one stream resumed on the next after it and was delivered 8, 9 and 11; another stream ended
   * after 11 (written in commit order before 10) and before 10's position. Neither skipped anything.
   */
  @Test
  void aVersionOutsideTheSessionsCommitOrderRangeIsNotASkipThoughItsRowVersionIsInside() {
    Map<Long, long[]> log = Map.of(8L, new long[] {1144, 283}, 9L, new long[] {1152, 307},
        10L, new long[] {1136, 338}, 11L, new long[] {1195, 366});
    Checker resumedPastIt = new Checker();
    resumedPastIt.checkSession("190|s/t/e", List.of(at(8, SyncPhase.SYNC_PHASE_LIVE), at(9, SyncPhase.SYNC_PHASE_LIVE),
        at(11, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), log);
    assertThat(resumedPastIt.violations()).isEmpty();

    Map<Long, long[]> later = Map.of(9L, new long[] {1161, 327}, 10L, new long[] {1245, 438},
        11L, new long[] {1234, 445});
    Checker endedBeforeIt = new Checker();
    endedBeforeIt.checkSession("300|s/t/e", List.of(at(9, SyncPhase.SYNC_PHASE_CATCH_UP),
        at(11, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), later);
    assertThat(endedBeforeIt.violations()).isEmpty();

    Checker skippedInCommitOrder = new Checker();
    skippedInCommitOrder.checkSession("301|s/t/e", List.of(at(8, SyncPhase.SYNC_PHASE_LIVE),
        at(11, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), log);
    assertThat(skippedInCommitOrder.violations()).singleElement().asString().contains("version 9 skipped");
  }

  /**
   * The interleaving of the 50-client long run (seed 4964014157540624190): client-0's copy is taken, then a create of
   * site-a/task/e3 commits, then client-3 (which wrote it) is synced with it. Each copy equals the database as read
   * right after it; the copies differ. That is not convergence.
   */
  @Test
  void copiesTakenAcrossAWriteAreNotConvergence() {
    Map<String, Checker.State> before = Map.of("site-a/note/e1", new Checker.State(1, doc("a")));
    Map<String, Checker.State> after = Map.of("site-a/note/e1", new Checker.State(1, doc("a")),
        "site-a/task/e3", new Checker.State(663, doc("t")));
    Map<String, Set<String>> scopes = Map.of("client-0", Set.of("site-a", "site-b"),
        "client-3", Set.of("site-a", "site-c"));

    assertThat(Checker.convergedAt(before, Map.of("client-0", before, "client-3", after), scopes, after))
        .as("client-0 taken before the write, client-3 after it").isFalse();
    assertThat(Checker.convergedAt(after, Map.of("client-0", before, "client-3", after), scopes, after))
        .as("client-0 behind the database").isFalse();
    assertThat(Checker.convergedAt(after, Map.of("client-0", after, "client-3", after), scopes, after)).isTrue();
    assertThat(Checker.convergedAt(after, Map.of("client-0", after), scopes, after))
        .as("a client without a copy (not synced)").isFalse();
    assertThat(Checker.convergedAt(Map.of("site-b/task/e1", new Checker.State(2, doc("x"))),
        Map.of("client-0", Map.of("site-b/task/e1", new Checker.State(2, doc("x"))), "client-3", Map.of()), scopes,
        Map.of("site-b/task/e1", new Checker.State(2, doc("x")), "site-c/memo/e2", new Checker.State(1, doc("y")))))
        .as("a write during the sweep, in a scope only a client already compared reads").isFalse();
  }

  private static com.google.protobuf.Struct doc(String text) {
    return com.google.protobuf.Struct.newBuilder().putFields("text",
        com.google.protobuf.Value.newBuilder().setStringValue(text).build()).build();
  }
}

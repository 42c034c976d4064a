package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncPhase;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The checker's per-session rules catch what they are meant to, so a green chaos run means something. */
class CheckerTest {
  private static History.Delivered at(long version, SyncPhase phase) {
    return new History.Delivered("c", 1, Change.newBuilder().setEntity(Entity.newBuilder().setScope("s")
        .setEntityType("t").setEntityId("e").setRowVersion(version)).build(), phase);
  }

  @Test
  void aSkippedVersionIsReportedUnlessTheSessionLearntItFromItsOwnPushResult() {
    Checker checker = new Checker();
    checker.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(5, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(), v -> true);
    assertThat(checker.violations()).singleElement().asString().contains("version 4 skipped");

    Checker own = new Checker();
    own.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(5, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(4L), v -> true);
    assertThat(own.violations()).isEmpty();

    Checker neverWritten = new Checker();
    neverWritten.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(5, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(), v -> v != 4);
    assertThat(neverWritten.violations()).as("version 4 has no change-log row").isEmpty();
  }

  @Test
  void aVersionDeliveredTwiceIsReportedButTheSeamAfterTheInitialStateIsCounted() {
    Checker checker = new Checker();
    checker.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_LIVE), at(3, SyncPhase.SYNC_PHASE_LIVE)),
        Set.of(), v -> true);
    assertThat(checker.violations()).singleElement().asString().contains("delivered twice");

    Checker seam = new Checker();
    int counted = seam.checkSession("1|s/t/e", List.of(at(3, SyncPhase.SYNC_PHASE_INITIAL_STATE),
        at(3, SyncPhase.SYNC_PHASE_CATCH_UP), at(4, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), v -> true);
    assertThat(seam.violations()).isEmpty();
    assertThat(counted).isEqualTo(1);
  }

  @Test
  void versionsOutOfOrderButAllPresentAreNotASkip() {
    Checker checker = new Checker();
    checker.checkSession("1|s/t/e", List.of(at(2, SyncPhase.SYNC_PHASE_LIVE), at(4, SyncPhase.SYNC_PHASE_LIVE),
        at(3, SyncPhase.SYNC_PHASE_LIVE)), Set.of(), v -> true);
    assertThat(checker.violations()).isEmpty();
  }
}

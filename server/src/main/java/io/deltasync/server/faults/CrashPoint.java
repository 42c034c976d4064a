package io.deltasync.server.faults;

import io.deltasync.v1.Delta;
import java.util.List;

/**
 * A test-only crash point between the database commit of a push and its reply: the reliability suite
 * ({@code reliability/}) uses it to prove that a client whose acknowledgement was lost gets the first result on
 * retry, not a second write.
 *
 * <p>Off unless {@code DELTASYNC_FAULT_HALT_AFTER_COMMIT} (environment) or {@code deltasync.fault.haltAfterCommit}
 * (system property) names a marker; then a committed push that carries a delta whose {@code entity_id} contains
 * the marker halts the JVM at once ({@link Runtime#halt}: no shutdown hooks, no reply, as SIGKILL would). Read once
 * at class load, so the check on the write path is one field read.
 */
public final class CrashPoint {
  private static final String MARKER = marker();

  private CrashPoint() {}

  private static String marker() {
    String value = System.getProperty("deltasync.fault.haltAfterCommit");
    if (value == null || value.isEmpty()) {
      value = System.getenv("DELTASYNC_FAULT_HALT_AFTER_COMMIT");
    }
    return value == null || value.isEmpty() ? null : value;
  }

  /** Called after a push's transaction committed and before its results are sent. */
  public static void afterCommit(List<Delta> deltas) {
    if (MARKER == null) {
      return;
    }
    for (Delta delta : deltas) {
      if (delta.getEntityId().contains(MARKER)) {
        System.err.println("deltasync: fault injection: halting after the commit of delta " + delta.getDeltaId());
        System.err.flush();
        Runtime.getRuntime().halt(137);
      }
    }
  }
}

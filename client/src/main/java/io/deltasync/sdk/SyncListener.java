package io.deltasync.sdk;

import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;

/**
 * What the app hears from the SDK. Calls come from the SDK's sync thread (local writes: from the writing thread),
 * one at a time; a listener must return quickly and must not block on the SDK.
 */
public interface SyncListener {
  /** An entity the app sees changed: a change from the server, a push result, or a local write. */
  default void onEntityChanged(LocalEntity entity) {}

  /**
   * A pushed delta met a conflict and the server's policy decided: {@code result.getStatus()} is CONFLICT (the
   * server's state was kept, the local copy now shows it) or APPLIED with a {@code resolution} (client won, merged,
   * or queued for manual resolution: then {@code result.getResolution().getConflictId()} names it, see
   * {@link SyncClient#resolveConflict}). A write queued behind one the server did not keep is rebased onto the
   * server's document under last write wins, or sent so that it meets the same conflict, and is reported with its
   * own verdict (one rebased that applies without a conflict is not reported here). A queued write that is not sent
   * (a delete behind a create that lost, that was queued or rejected) is reported here under its own
   * {@code delta_id}: status CONFLICT, the server's entity, no resolution (no policy decided it: nothing to
   * resolve), and {@code result.getError().getMessage()} says which delta it followed (docs/client.md, "Writes
   * behind a conflict").
   */
  default void onConflict(Delta delta, DeltaResult result) {}

  /**
   * The server refused a delta for good ({@code result.getError()} says why); it left the outbox and the local copy
   * shows the server's state again. The deltas behind it go on.
   */
  default void onRejected(Delta delta, DeltaResult result) {}

  /** The sync state changed (phase, pending deltas, initial sync progress). */
  default void onStateChanged(SyncState state) {}

  /** The server could not serve the stored cursor: the local copy is downloaded again; the outbox is kept. */
  default void onResync(String reason) {}

  /** The server reported an error about one message on the stream (the stream goes on). */
  default void onStreamError(com.google.rpc.Status status) {}
}

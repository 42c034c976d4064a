package io.deltasync.sdk;

/**
 * Where the sync loop is.
 *
 * @param phase the loop's phase
 * @param pendingDeltas how many local writes wait in the outbox
 * @param initialEntities during {@link Phase#INITIAL_SYNC}: how many entities of the initial state have arrived
 * @param lastError the last reason the stream ended or a connection failed, or null
 */
public record SyncState(Phase phase, int pendingDeltas, long initialEntities, String lastError) {
  /** The phases of the sync loop. */
  public enum Phase {
    /** Not connected; a reconnect is scheduled (or {@link SyncClient#start()} was not called yet). */
    OFFLINE,
    /** Opening the stream, waiting for the server's welcome. */
    CONNECTING,
    /** Downloading the current state (empty cursor or resync). */
    INITIAL_SYNC,
    /** Receiving the changes after the stored cursor. */
    CATCHING_UP,
    /** Up to date; changes arrive as they are committed. */
    LIVE,
    /** Stopped for good: closed, or an error retrying cannot fix (see lastError). */
    STOPPED
  }
}

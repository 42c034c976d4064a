package io.deltasync.sdk;

import io.deltasync.v1.Delta;
import java.util.Objects;

/**
 * One pending delta in the outbox, oldest first by {@code seq}. Once {@code sent}, the delta is frozen: a retry
 * (after a reconnect or an app restart) sends exactly the same content with the same {@code delta_id}, so the
 * server's idempotency answers it with its first result instead of applying it twice.
 *
 * @param seq the outbox position (assigned by the store; order of the app's writes)
 * @param delta the delta; its {@code base_row_version} counts only when {@code chained} is false
 * @param chained true while the delta's base is "whatever the previous pending delta of the same entity produces":
 *     fixed from that delta's result before this one is sent
 * @param sent true once the delta went out at least once (its content may no longer change)
 * @param attempts how many times the server answered "not now" (retryable) for it
 */
public record OutboxEntry(long seq, Delta delta, boolean chained, boolean sent, int attempts) {
  /** Checks the delta. */
  public OutboxEntry {
    Objects.requireNonNull(delta, "delta");
  }

  /** The entity the delta writes. */
  public EntityKey key() {
    return EntityKey.of(delta);
  }

  /** The delta's id. */
  public String deltaId() {
    return delta.getDeltaId();
  }
}

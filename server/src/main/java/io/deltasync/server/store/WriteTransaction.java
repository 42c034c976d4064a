package io.deltasync.server.store;

import static io.deltasync.db.jooq.Tables.APPLIED_DELTA;

import java.util.Arrays;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** One write transaction: the idempotency record and the entity writes of one delta, committed together. */
public final class WriteTransaction {
  private final DSLContext tx;
  private final EntityStore entities;

  WriteTransaction(DSLContext tx) {
    this.tx = tx;
    this.entities = new JsonEntityStore(tx);
  }

  /** What {@link #claimDelta} found. */
  public sealed interface Claim {}

  /** The delta is new: this transaction applies it and must {@link #recordResult} before commit. */
  public record Claimed() implements Claim {}

  /**
   * The delta was applied before.
   *
   * @param sameContent whether it had the same digest (a true retry) or other content (a reused id)
   * @param result the serialized result first returned
   */
  public record AlreadyApplied(boolean sameContent, byte[] result) implements Claim {}

  /**
   * Claims (client_id, delta_id) for this transaction. The insert comes first so that a concurrent retry of the
   * same delta blocks on the primary key until this transaction ends, then sees the committed result instead of
   * applying the delta a second time.
   */
  public Claim claimDelta(String clientId, String deltaId, byte[] digest) {
    int inserted = tx.insertInto(APPLIED_DELTA)
        .set(APPLIED_DELTA.CLIENT_ID, clientId)
        .set(APPLIED_DELTA.DELTA_ID, deltaId)
        .set(APPLIED_DELTA.DELTA_DIGEST, digest)
        .onConflictDoNothing()
        .execute();
    if (inserted == 1) {
      return new Claimed();
    }
    var stored = tx.select(APPLIED_DELTA.DELTA_DIGEST, APPLIED_DELTA.RESULT)
        .from(APPLIED_DELTA)
        .where(APPLIED_DELTA.CLIENT_ID.eq(clientId), APPLIED_DELTA.DELTA_ID.eq(deltaId))
        .fetchSingle();
    return new AlreadyApplied(Arrays.equals(stored.value1(), digest), stored.value2());
  }

  /** Stores the result to answer retries with. */
  public void recordResult(String clientId, String deltaId, byte[] result) {
    tx.update(APPLIED_DELTA)
        .set(APPLIED_DELTA.RESULT, result)
        .where(APPLIED_DELTA.CLIENT_ID.eq(clientId), APPLIED_DELTA.DELTA_ID.eq(deltaId))
        .execute();
  }

  /**
   * Tells the change-log trigger who is writing and which delta caused the change (transaction-local settings,
   * so they cannot leak into another transaction on the same pooled connection).
   */
  public void identifyWriter(String clientId, String deltaId) {
    tx.select(
            DSL.function("set_config", String.class, DSL.inline("deltasync.client_id"), DSL.val(clientId),
                DSL.inline(true)),
            DSL.function("set_config", String.class, DSL.inline("deltasync.delta_id"), DSL.val(deltaId),
                DSL.inline(true)))
        .fetch();
  }

  /** The entity store, bound to this transaction. */
  public EntityStore entities() {
    return entities;
  }
}

package io.deltasync.sdk;

import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionOutcome;
import java.util.ArrayList;
import java.util.List;

/**
 * What becomes of the writes queued behind an entity's delta in flight ("chained": made on the document that delta
 * wrote) once its result arrives. docs/client.md, "Writes behind a conflict", is the rule in prose:
 *
 * <ul>
 *   <li>The server kept the client's document ({@link #keptClientData}): the next write is based on the result's
 *       version (and edits are transformed past {@code rebase_edits}, see Replica).
 *   <li>Otherwise (conflict, server won or queued; last-write-wins merged keeping some server fields; rejected):
 *       the next write is <em>judged as the same conflict</em> by the server's policy. It is sent with a base the
 *       server's version has passed for good (the first write's stale base), so its compare-and-set can never
 *       match and the policy decides again: server wins keeps the server's state, manual queues it, last write wins
 *       compares it at its own (later) time. Behind a create (base 0), an update becomes a create of the same
 *       document (a create of an existing id or a tombstone is always a conflict), and a delete is dropped and
 *       reported with the first write's result: it would delete an entity the user never had (another device's),
 *       and no base exists that could not silently match the server's (a base of 1 matches a fresh create).
 * </ul>
 *
 * An offline write is thus never refused for its base ({@code base_row_version: required for OPERATION_UPDATE}),
 * and never silently overwrites what a policy kept.
 */
final class ChainedWrites {
  private ChainedWrites() {}

  /**
   * Whether the server's entity is the client's document: applied as sent, applied by client wins (or a last
   * write that won every field), or merged by operational transform (its edits relate the result to the client's
   * document). A last-write-wins merge that kept some server fields, a conflict and a rejection are not.
   */
  static boolean keptClientData(DeltaResult result) {
    if (result.getStatus() != DeltaStatus.DELTA_STATUS_APPLIED || !result.hasEntity()
        || result.getEntity().getRowVersion() <= 0) {
      return false;
    }
    if (!result.hasResolution()) {
      return true;
    }
    return result.getResolution().getPolicy() == ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM
        || result.getResolution().getOutcome() == ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON;
  }

  /** The chained writes after the rule: those to keep (rewritten), and those that leave the outbox. */
  record Followed(List<OutboxEntry> rewritten, List<OutboxEntry> dropped, List<OutboxEntry> lost) {}

  /**
   * The writes behind {@code head} when the server did not keep its document. {@code behind} is the entity's queue
   * after the head left it; {@code visible} what the app sees of the entity (all pending writes applied), or null
   * if the store holds no row of it.
   */
  static Followed followConflict(OutboxEntry head, DeltaResult result, List<OutboxEntry> behind,
      LocalEntity visible) {
    List<OutboxEntry> rewritten = new ArrayList<>();
    List<OutboxEntry> dropped = new ArrayList<>();
    List<OutboxEntry> lost = new ArrayList<>();
    long stale = head.delta().getBaseRowVersion();
    for (int i = 0; i < behind.size(); i++) {
      OutboxEntry next = behind.get(i);
      if (!next.chained()) {
        break; // already has its own base (a repaired queue): nothing to do
      }
      Delta.Builder delta = next.delta().toBuilder();
      if (next.delta().getEditsCount() > 0 && visible == null) {
        lost.add(next); // no document to send instead (a store without the entity's row): reported, not sent
        continue;
      }
      if (next.delta().getEditsCount() > 0) {
        // Its edits were made on the head's document, which the server does not have: send the user's document
        // as a whole instead, and drop the writes behind it (that document already holds them).
        delta.clearEdits();
        if (visible.deleted()) {
          delta.setOperation(Operation.OPERATION_DELETE).clearData();
        } else {
          delta.setData(visible.data());
        }
        delta.setConflictPolicy(result.hasResolution() ? result.getResolution().getPolicy()
            : ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED);
        behind.subList(i + 1, behind.size()).forEach(dropped::add);
        behind = behind.subList(0, i + 1);
      }
      Operation operation = delta.getOperation();
      if (operation == Operation.OPERATION_CREATE) {
        delta.setBaseRowVersion(0);
      } else if (stale > 0) {
        delta.setBaseRowVersion(stale);
      } else if (operation == Operation.OPERATION_UPDATE) {
        delta.setOperation(Operation.OPERATION_CREATE).setBaseRowVersion(0);
      } else {
        lost.add(next); // a delete behind a create the server did not take: see the class comment
        continue;
      }
      rewritten.add(new OutboxEntry(next.seq(), delta.build(), false, next.sent(), next.attempts()));
      break; // the ones behind it stay chained to it
    }
    return new Followed(rewritten, dropped, lost);
  }
}

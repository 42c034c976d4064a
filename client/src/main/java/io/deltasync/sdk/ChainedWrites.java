package io.deltasync.sdk;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionOutcome;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What becomes of the writes queued behind an entity's delta in flight ("chained": made on the document that delta
 * wrote) once its result arrives. docs/client.md, "Writes behind a conflict", is the rule in prose:
 *
 * <ul>
 *   <li>The server kept the client's document ({@link #keptClientData}): the next write is based on the result's
 *       version (and edits are transformed past {@code rebase_edits}, see Replica).
 *   <li>Last write wins decided on a document the head wrote (applied and merged, or the server's fields won): the
 *       next update is rebased onto the server's document ({@link #rebase}: the result's data plus what it changed
 *       over the head's document). It goes at the result's version when it changes no field the server holds
 *       another value of ({@link #touchesServerState}); otherwise the policy judges it at a stale base (below),
 *       carrying that rebased document. A delete behind a merged create (or behind a merged update whose fields
 *       all won) goes at the result's version.
 *   <li>Otherwise (server wins, manual, rejected, a delete behind a last-write-wins loss) the next write is
 *       <em>judged as the same conflict</em>: sent with a base the server's version has passed for good (the head's
 *       stale base), so its compare-and-set can never match and the policy decides again. Behind a create (the
 *       head's operation, whatever its base: a create over a tombstone has the tombstone's version), an update
 *       becomes a create of the same document (a create of an existing id or a tombstone is always a conflict),
 *       and a delete is not sent: it would delete an entity the user never had (another device's), and no base
 *       exists that could not silently match the server's (a base of 1 matches a fresh create). It is reported as
 *       {@link Lost}, a conflict of its own (Replica).
 * </ul>
 *
 * An offline write is thus never refused for its base ({@code base_row_version: required for OPERATION_UPDATE}),
 * never silently overwrites what a policy kept, and under last write wins never re-sends the head's values that
 * lost (they would be stamped with its later time).
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

  /**
   * The chained writes after the rule: those to keep (rewritten), those folded into a rewritten whole-document write
   * (they leave the outbox; that write carries them), and those that leave the outbox unsent, each with the reason
   * to report for it.
   */
  record Followed(List<OutboxEntry> rewritten, List<OutboxEntry> dropped, List<Lost> lost) {}

  /** A chained write that is not sent, and why (reported to the app as its own verdict). */
  record Lost(OutboxEntry entry, String reason) {}

  /**
   * The writes behind {@code head} when the server did not keep its document. {@code behind} is the entity's queue
   * after the head left it; {@code visible} what the app sees of the entity (all pending writes applied), or null
   * if the store holds no row of it.
   */
  static Followed followConflict(OutboxEntry head, DeltaResult result, List<OutboxEntry> behind,
      LocalEntity visible) {
    List<OutboxEntry> rewritten = new ArrayList<>();
    List<OutboxEntry> dropped = new ArrayList<>();
    List<Lost> lost = new ArrayList<>();
    Delta first = head.delta();
    long stale = first.getBaseRowVersion();
    // "Behind a create" is the head's operation, not its base: a create over a tombstone has the tombstone's version.
    boolean behindCreate = first.getOperation() == Operation.OPERATION_CREATE || stale <= 0;
    Entity onto = rebaseTarget(first, result);
    for (int i = 0; i < behind.size(); i++) {
      OutboxEntry next = behind.get(i);
      if (!next.chained()) {
        break; // already has its own base (a repaired queue): nothing to do
      }
      Delta.Builder delta = next.delta().toBuilder();
      if (next.delta().getEditsCount() > 0 && visible == null) {
        // no document to send instead (a store without the entity's row): reported, not sent
        lost.add(new Lost(next, "its edits were made on delta " + first.getDeltaId() + "'s document, which the "
            + "server did not keep, and no local document is left to send instead"));
        continue;
      }
      List<OutboxEntry> folded = List.of();
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
        folded = List.copyOf(behind.subList(i + 1, behind.size()));
      }
      Operation operation = delta.getOperation();
      boolean send = true;
      if (operation == Operation.OPERATION_CREATE) {
        delta.setBaseRowVersion(0);
      } else if (onto != null && operation == Operation.OPERATION_UPDATE) {
        // Three-way rebase onto the server's document: only what this write changed over the head's document.
        Struct mine = delta.getData();
        delta.setData(rebase(onto.getData(), first.getData(), mine));
        if (touchesServerState(onto.getData(), first.getData(), mine)) {
          // It changes a field the server holds another value of: the policy must decide, at a stale base.
          if (behindCreate) {
            delta.setOperation(Operation.OPERATION_CREATE).setBaseRowVersion(0);
          } else {
            delta.setBaseRowVersion(stale);
          }
        } else {
          delta.setBaseRowVersion(onto.getRowVersion());
        }
      } else if (onto != null && result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED
          && (behindCreate || result.getResolution().getServerFieldsCount() == 0)) {
        // A delete behind a write the server merged: the user has the entity (their write is in it).
        delta.setBaseRowVersion(onto.getRowVersion());
      } else if (!behindCreate) {
        delta.setBaseRowVersion(stale);
      } else if (operation == Operation.OPERATION_UPDATE) {
        delta.setOperation(Operation.OPERATION_CREATE).setBaseRowVersion(0);
      } else {
        send = false; // a delete behind a create the server did not take: see the class comment
      }
      if (!send) {
        String reason = "not sent: it followed delta " + first.getDeltaId() + ", a create the server did not take ("
            + result.getStatus() + "), so it would delete an entity this client never had";
        lost.add(new Lost(next, reason));
        folded.forEach(f -> lost.add(new Lost(f, reason + "; it was part of delta " + next.deltaId())));
        i += folded.size();
        continue;
      }
      dropped.addAll(folded);
      rewritten.add(new OutboxEntry(next.seq(), delta.build(), false, next.sent(), next.attempts()));
      break; // the ones behind it stay chained to it
    }
    return new Followed(rewritten, dropped, lost);
  }

  /**
   * The server's entity to rebase the chained writes onto, or null: the head wrote a document and the server's
   * result holds a live one after a last-write-wins decision (applied or merged, or the server's fields won).
   */
  private static Entity rebaseTarget(Delta head, DeltaResult result) {
    if (head.getOperation() == Operation.OPERATION_DELETE || head.getEditsCount() > 0 || !head.hasData()
        || !result.hasEntity() || result.getEntity().getIsDeleted() || result.getEntity().getRowVersion() <= 0) {
      return null;
    }
    if (result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
      return result.getEntity();
    }
    boolean lastWriteWins = result.hasResolution()
        && result.getResolution().getPolicy() == ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS
        && result.getResolution().getOutcome() == ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON;
    return result.getStatus() == DeltaStatus.DELTA_STATUS_CONFLICT && lastWriteWins ? result.getEntity() : null;
  }

  /** {@code server} with what {@code mine} changed over {@code theirs}: fields set or changed, fields removed. */
  static Struct rebase(Struct server, Struct theirs, Struct mine) {
    Struct.Builder out = server.toBuilder();
    mine.getFieldsMap().forEach((field, value) -> {
      if (!value.equals(theirs.getFieldsMap().get(field))) {
        out.putFields(field, value);
      }
    });
    theirs.getFieldsMap().keySet().stream().filter(field -> !mine.containsFields(field)).forEach(out::removeFields);
    return out.build();
  }

  /**
   * Whether {@code mine} changes (over {@code theirs}) a field whose server value is not {@code theirs}': a field
   * the server wrote too, which only the policy may decide (an update at the server's version would overwrite it).
   */
  static boolean touchesServerState(Struct server, Struct theirs, Struct mine) {
    Set<String> fields = new HashSet<>(theirs.getFieldsMap().keySet());
    fields.addAll(mine.getFieldsMap().keySet());
    for (String field : fields) {
      Value before = theirs.getFieldsMap().get(field);
      boolean changed = !Objects.equals(before, mine.getFieldsMap().get(field));
      if (changed && !Objects.equals(before, server.getFieldsMap().get(field))) {
        return true;
      }
    }
    return false;
  }
}

package io.deltasync.server.write;

import com.google.protobuf.Struct;
import com.google.rpc.BadRequest.FieldViolation;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.InvalidOperationException;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.server.ot.OperationalTransform;
import io.deltasync.server.ot.Side;
import io.deltasync.server.ot.Transformed;
import io.deltasync.server.ot.UntransformableException;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Expected;
import io.deltasync.server.store.WriteTransaction;
import io.deltasync.server.store.WriteTransaction.LoggedChange;
import io.deltasync.v1.Delta;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Entity;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Deltas that carry edits on the write path: applying them at their base version, merging them by operational
 * transform when the entity moved on, and turning them into the client's whole document when another policy has to
 * decide. The transform itself is the pure {@code ot} package; this class reads the history it needs and writes the
 * result with a compare-and-set, inside the caller's transaction (docs/operational-transform.md, "How the server
 * uses it").
 *
 * <p>Reading and transforming are separate from writing ({@link #plan}, then {@link #write}): the caller plans
 * before the delta's first write, so that for the first delta of a transaction the transform runs before
 * PostgreSQL assigns the transaction an id (ids are assigned at the first write; reads take none), and an id that
 * holds back the change feed's watermark for every client is held only for the writes. The write is a
 * compare-and-set on the version the plan read; on a miss the conflict loop reads again and transforms again.
 */
final class OperationalMerge {
  private final DeltaValidator validator;
  private final Consumer<WriteTransaction> transforming;

  OperationalMerge(DeltaValidator validator) {
    this(validator, tx -> { });
  }

  /** {@code transforming} is told of every transform as it starts (tests observe the transaction's state there). */
  OperationalMerge(DeltaValidator validator, Consumer<WriteTransaction> transforming) {
    this.validator = validator;
    this.transforming = transforming;
  }

  /** What an attempt came to. */
  sealed interface Outcome {}

  /**
   * The edits were written.
   *
   * @param entity the entity after the write (or as it is, when nothing was left to write)
   * @param rebase what the client applies to its own document to reach the entity's (empty without a conflict)
   * @param explanation what the merge did, in words; empty without a conflict
   * @param unchanged whether nothing was left to write (the entity is as it was: RESOLUTION_OUTCOME_UNCHANGED)
   */
  record Written(Entity entity, List<Edit> rebase, String explanation, boolean unchanged)
      implements Outcome, Computed {
    Written(Entity entity, List<Edit> rebase, String explanation) {
      this(entity, rebase, explanation, false);
    }
  }

  /** The edits do not fit the client's own base document, or produce a document that cannot be stored. */
  record Invalid(List<FieldViolation> violations) implements Outcome, ClientIntent, Computed {}

  /** The compare-and-set missed: the entity is not (or no longer) at the version read. */
  record Missed() implements Outcome, Computed {}

  /** Operational transform cannot merge this delta; another policy must decide, and {@code why} says why. */
  record Fallback(String why) implements Outcome, Computed {}

  /** What reading and transforming came to, before anything is written: {@link #write} carries it out. */
  sealed interface Computed {}

  /**
   * Edits ready to be written: {@code document} is {@code at}'s document with {@code ops} applied, to be written
   * with a compare-and-set on {@code at}'s version.
   */
  record Ready(Entity at, List<Edit> ops, Struct document, List<Edit> rebase, String explanation)
      implements Computed {}

  /**
   * The reads and transforms of one delta, made before its first write.
   *
   * @param read the entity as read, or null if there was none
   * @param atBase the edits applied at the delta's base, if the entity was at it (else null)
   * @param merged the edits merged into {@code read} by operational transform, if that was the policy and the
   *     entity had moved on (else null)
   */
  record Plan(Entity read, Computed atBase, Computed merged) {
    static final Plan NONE = new Plan(null, null, null);
  }

  /**
   * Reads the entity and does the work its edits need on the state read: applies them if it is at the delta's base,
   * else transforms them against the history since the base if {@code transform} (the delta's policy is
   * operational transform). Reads only, so the caller runs it before the delta's first write.
   */
  Plan plan(WriteTransaction tx, String clientId, ValidDelta valid, List<Edit> edits, String field,
      boolean transform) {
    Optional<Entity> found = tx.entities().find(valid.key());
    if (found.isEmpty()) {
      return Plan.NONE;
    }
    Entity entity = found.get();
    if (!entity.getIsDeleted() && matches(entity, valid.base())) {
      return new Plan(entity, applyTo(entity, edits, field), null);
    }
    return transform ? new Plan(entity, null, transform(tx, clientId, valid, edits, field, entity))
        : new Plan(entity, null, null);
  }

  /**
   * Applies the edits to the entity if it is still at the delta's base version, with a compare-and-set on that
   * version: {@link Written}, {@link Invalid}, or {@link Missed} when it has moved on (a conflict).
   */
  Outcome applyAtBase(WriteTransaction tx, String clientId, ValidDelta valid, List<Edit> edits, String field,
      Plan plan) {
    if (plan.atBase() != null) {
      return write(tx, clientId, valid.key(), plan.atBase(), field);
    }
    Optional<Entity> found = tx.entities().find(valid.key());
    if (found.isEmpty() || found.get().getIsDeleted() || !matches(found.get(), valid.base())) {
      return new Missed();
    }
    return write(tx, clientId, valid.key(), applyTo(found.get(), edits, field), field);
  }

  private static Computed applyTo(Entity base, List<Edit> edits, String field) {
    try {
      return new Ready(base, edits, OperationalTransform.apply(base.getData(), edits), List.of(), "");
    } catch (InvalidOperationException e) {
      return new Invalid(DeltaValidator.violations(field, e));
    }
  }

  /**
   * Merges the edits into {@code current} (which is past the delta's base version): transforms them against the
   * edits of every change since the base, applies the result with a compare-and-set on the current version, and
   * stores the transformed edits in the change log.
   *
   * <p>The tie-break side is decided per intervening change, between the delta's client and that change's client
   * ({@link Side#byClientId}): where the delta's edits tie with one change's (an insert at the same position, a write
   * of the same key), the smaller client id of the two goes first, exactly as if those two had met alone. One side
   * for a composed history would have to pick a single author for ties with all of them.
   */
  Outcome merge(WriteTransaction tx, String clientId, ValidDelta valid, List<Edit> edits, String field,
      Entity current, Plan plan) {
    // The plan's transform is used if nothing changed since it was read; else it is done again on the newer state.
    Computed computed = plan.merged() != null && sameState(plan.read(), current) ? plan.merged()
        : transform(tx, clientId, valid, edits, field, current);
    return write(tx, clientId, valid.key(), computed, field);
  }

  private static boolean sameState(Entity read, Entity current) {
    return read.getRowVersion() == current.getRowVersion() && read.getEtag().equals(current.getEtag())
        && read.getIsDeleted() == current.getIsDeleted();
  }

  /** The reads and the transform of {@link #merge}, without its write. */
  private Computed transform(WriteTransaction tx, String clientId, ValidDelta valid, List<Edit> edits,
      String field, Entity current) {
    transforming.accept(tx);
    EntityKey key = valid.key();
    long base = WriteService.baseVersion(tx, valid);
    // The client's own mistakes are reported against its own fields, before anything is transformed.
    Optional<Struct> baseDocument = base > 0 ? tx.dataAt(key, base) : Optional.empty();
    if (baseDocument.isPresent()) {
      try {
        OperationalTransform.apply(baseDocument.get(), edits);
      } catch (InvalidOperationException e) {
        return new Invalid(DeltaValidator.violations(field, e));
      }
    }
    if (current.getIsDeleted()) {
      return new Fallback("the entity was deleted at row_version " + current.getRowVersion()
          + ", so there is no document to merge the edits into");
    }
    if (base <= 0 || base >= current.getRowVersion()) {
      return new Fallback("the delta's base (" + describeBase(valid.delta()) + ") is not an earlier version of the "
          + "entity, which is at row_version " + current.getRowVersion());
    }
    Instant createdAt = Instant.ofEpochSecond(current.getCreatedAt().getSeconds(), current.getCreatedAt().getNanos());
    List<LoggedChange> history = tx.changesBetween(key, createdAt, base, current.getRowVersion());
    if (history.size() != current.getRowVersion() - base) {
      return new Fallback("the change log no longer holds every change after row_version " + base + " (found "
          + history.size() + " of " + (current.getRowVersion() - base) + "; older history was cleaned up)");
    }
    List<Edit> ops = edits;
    List<Edit> rebase = List.of();
    List<String> authors = new ArrayList<>();
    for (LoggedChange change : history) {
      if (change.edits().isEmpty() || !change.operation().equals("update")) {
        return new Fallback("the change at row_version " + change.rowVersion() + " by "
            + (change.clientId().isEmpty() ? "a plain-SQL writer" : "client '" + change.clientId() + "'")
            + " was not made with edits (" + (change.operation().equals("update") ? "a whole-data update" : "a "
            + change.operation()) + "), so there is nothing to transform against");
      }
      try {
        List<Edit> theirs = OperationCodec.fromProto(change.edits().get());
        Transformed transformed = OperationalTransform.transformBoth(ops, theirs,
            Side.byClientId(clientId, change.clientId()));
        ops = transformed.ops();
        rebase = OperationalTransform.compose(rebase, transformed.against());
      } catch (UntransformableException | InvalidOperationException e) {
        return new Fallback("the edits cannot be transformed against the change at row_version "
            + change.rowVersion() + ": " + e.getMessage());
      }
      if (!authors.contains(change.clientId())) {
        authors.add(change.clientId());
      }
    }
    String merged = "merged with the edits of " + history.size() + (history.size() == 1 ? " change" : " changes")
        + " since row_version " + base + " (by " + String.join(", ", authors) + ")";
    if (ops.isEmpty()) {
      // Nothing of the delta survived (every edit was inside a value the history removed or overwrote, or lost a
      // tie): writing would only bump the version.
      return new Written(current, rebase, merged + "; none of the delta's edits were left to apply (they were "
          + "inside values those changes removed or overwrote, or lost a tie to them), so the entity is unchanged",
          true);
    }
    Struct document;
    try {
      document = OperationalTransform.apply(current.getData(), ops);
    } catch (InvalidOperationException e) {
      // TP1 makes transformed edits fit; this means the history does not match the document.
      return new Fallback("the transformed edits do not fit the current document (" + e.getMessage() + ")");
    }
    return new Ready(current, ops, document, rebase, merged);
  }

  /** What the client meant as a whole document. */
  sealed interface ClientIntent {}

  /**
   * The client's whole document (its base plus its edits), for a policy other than operational transform: a
   * {@link ClientDocument}, an {@link Invalid}, or {@link BaseGone} when the change log no longer has the base.
   */
  ClientIntent clientDocument(WriteTransaction tx, ValidDelta valid, List<Edit> edits, String field) {
    long base = WriteService.baseVersion(tx, valid);
    Optional<Struct> baseDocument = base > 0 ? tx.dataAt(valid.key(), base) : Optional.empty();
    if (baseDocument.isEmpty()) {
      return new BaseGone(base);
    }
    try {
      Struct document = OperationalTransform.apply(baseDocument.get(), edits);
      List<FieldViolation> violations = new ArrayList<>();
      return validator.documentJson(document, field + ".edits", violations) == null
          ? new Invalid(afterEdits(violations)) : new ClientDocument(document);
    } catch (InvalidOperationException e) {
      return new Invalid(DeltaValidator.violations(field, e));
    }
  }

  /** The client's base document plus its edits. */
  record ClientDocument(Struct document) implements ClientIntent {}

  /** The change log no longer holds the document at the delta's base version. */
  record BaseGone(long baseVersion) implements ClientIntent {}

  /** Carries out what was computed: a {@link Ready} is written with a compare-and-set, the rest is the outcome. */
  private Outcome write(WriteTransaction tx, String clientId, EntityKey key, Computed computed, String field) {
    return switch (computed) {
      case Ready ready -> writeReady(tx, clientId, key, ready, field);
      case Written written -> written;
      case Invalid invalid -> invalid;
      case Missed missed -> missed;
      case Fallback fallback -> fallback;
    };
  }

  private Outcome writeReady(WriteTransaction tx, String clientId, EntityKey key, Ready ready, String field) {
    List<FieldViolation> violations = new ArrayList<>();
    String json = validator.documentJson(ready.document(), field + ".edits", violations);
    if (json == null) {
      return new Invalid(afterEdits(violations));
    }
    List<EditOperation> applied = OperationCodec.toProto(ready.ops());
    tx.recordEdits(applied);
    Optional<Entity> written = tx.entities().replaceData(key, new Expected(ready.at().getRowVersion(), ""), json,
        clientId);
    if (written.isEmpty()) {
      tx.recordEdits(null);  // whatever is written next in this transaction is not these edits
      return new Missed();
    }
    return new Written(written.get(), ready.rebase(), ready.explanation());
  }

  private static List<FieldViolation> afterEdits(List<FieldViolation> violations) {
    return violations.stream().map(v -> v.toBuilder().setDescription("the document after the edits: "
        + v.getDescription()).build()).toList();
  }

  private static boolean matches(Entity entity, Expected base) {
    return (base.rowVersion() == 0 || base.rowVersion() == entity.getRowVersion())
        && (base.etag().isEmpty() || base.etag().equals(entity.getEtag()));
  }

  private static String describeBase(Delta delta) {
    return delta.getBaseRowVersion() > 0 ? "row_version " + delta.getBaseRowVersion() : "etag " + delta.getBaseEtag();
  }
}

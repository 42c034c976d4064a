package io.deltasync.server.write;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.conflict.ConflictPolicies;
import io.deltasync.server.conflict.ConflictResolver;
import io.deltasync.server.conflict.WriteClock;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.Json;
import io.deltasync.server.store.WriteClocks;
import io.deltasync.server.ot.Edit;
import io.deltasync.server.ot.OperationCodec;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.ConflictResolution;
import io.deltasync.v1.ResolutionOutcome;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jooq.exception.DataAccessException;
import org.postgresql.util.PSQLException;
import java.util.UUID;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.EntityStore;
import io.deltasync.server.store.Expected;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.store.WriteTransaction;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Operation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import io.grpc.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies batches of deltas: each delta is validated, then the batch is applied in one transaction, each delta
 * together with its idempotency record and (through the trigger) its change-log entry, each with its own result.
 * The one implementation behind both the unary Push and the Sync stream.
 */
public final class WriteService {
  private static final Logger log = LoggerFactory.getLogger(WriteService.class);

  // Each round misses only because another writer committed in between, so the bound is about the number of
  // writers racing on one entity; past it the client is told to retry (ABORTED), never left waiting forever.
  private static final int MAX_RESOLUTION_ATTEMPTS = 20;

  private final SyncStore store;
  private final DeltaValidator validator;
  private final OperationalMerge merge;
  private final ConflictPolicies policies;
  private final Duration maxClockSkew;
  private final Clock clock;
  private final long responseBudget;
  private final Runnable committed;
  // The stages of a push as child spans of its batch span (telemetry.SyncTelemetry#push); no-op until traced.
  private volatile Tracer tracer = OpenTelemetry.noop().getTracer("deltasync");
  private volatile io.deltasync.server.admission.WriteAdmission admission =
      io.deltasync.server.admission.WriteAdmission.NONE;

  /**
   * Creates the service.
   *
   * @param maxDataBytes bounds one delta's document as JSON
   * @param maxEditsPerDelta bounds the number of one delta's edits
   * @param policies which conflict policy applies to a delta
   * @param maxClockSkew how far ahead of the server a client's timestamp may run (last-write-wins)
   * @param clock the server's clock
   * @param maxMessageBytes the largest message a client accepts; the results of one push stay below it
   * @param committed runs after each batch transaction commits (wakes the change feed); must not block
   */
  public WriteService(SyncStore store, int maxDataBytes, int maxEditsPerDelta, ConflictPolicies policies,
      Duration maxClockSkew, Clock clock, int maxMessageBytes, Runnable committed) {
    this(store, maxDataBytes, maxEditsPerDelta, policies, maxClockSkew, clock, maxMessageBytes, committed,
        tx -> { });
  }

  /** As the public constructor; {@code transforming} is told of every operational transform as it starts. */
  WriteService(SyncStore store, int maxDataBytes, int maxEditsPerDelta, ConflictPolicies policies,
      Duration maxClockSkew, Clock clock, int maxMessageBytes, Runnable committed,
      Consumer<WriteTransaction> transforming) {
    this.committed = committed;
    // One result can hold two documents (the entity and, in conflict_data, the client's); leave room for it.
    this.responseBudget = Math.max(maxMessageBytes / 2, maxMessageBytes - 2L * maxDataBytes - 64 * 1024);
    this.store = store;
    this.validator = new DeltaValidator(maxDataBytes, maxEditsPerDelta);
    this.merge = new OperationalMerge(validator, transforming);
    this.policies = policies;
    this.maxClockSkew = maxClockSkew;
    this.clock = clock;
  }

  /**
   * Traces the stages of each push with {@code tracer}: {@code deltasync.push.validate}, {@code
   * deltasync.push.transaction} (one per attempt of the batch transaction), {@code deltasync.push.run} (one
   * set-based statement), {@code deltasync.push.delta} (a delta through the per-delta path: a conflict, a retry,
   * edits) and {@code deltasync.push.fallback} (one transaction per delta after repeated deadlocks).
   */
  public void traceWith(Tracer tracer) {
    this.tracer = tracer;
  }

  /** Puts {@code admission} in front of the pool for every push (default: {@code WriteAdmission.NONE}). */
  public void admitWith(io.deltasync.server.admission.WriteAdmission admission) {
    this.admission = java.util.Objects.requireNonNull(admission, "admission");
  }

  /** A stage's span, current while the stage runs. */
  private <T> T stage(String name, java.util.function.Supplier<T> work) {
    Span span = tracer.spanBuilder(name).startSpan();
    try (Scope scope = span.makeCurrent()) {
      return work.get();
    } catch (RuntimeException | Error e) {
      span.recordException(e);
      throw e;
    } finally {
      span.end();
    }
  }

  /** Checks a client id; returns the violations (empty when valid). */
  public static List<FieldViolation> checkClientId(String field, String clientId) {
    return DeltaValidator.checkClientId(field, clientId);
  }

  /** Whether a value is a well-formed entity type. */
  public static boolean isEntityType(String value) {
    return DeltaValidator.isEntityType(value);
  }

  /** Whether a value is a well-formed scope. */
  public static boolean isScope(String value) {
    return DeltaValidator.isScope(value);
  }

  /**
   * Applies the deltas in order and returns one result per delta. The batch is one database transaction: every
   * delta that is applied (and its idempotency record) commits together, with one WAL flush for the batch instead of
   * one per delta. Each delta is still all-or-nothing on its own: a delta the database refuses (a constraint, bad
   * data) is rolled back to its savepoint and rejected alone, and the others commit. A bad delta never reaches the
   * database at all: it is rejected by validation. If the database becomes unreachable, nothing of the batch is
   * committed and every attempted delta is answered UNAVAILABLE; the client retries them all (safely, by delta_id,
   * which also covers a connection lost while the commit was under way).
   */
  public List<DeltaResult> push(String clientId, List<Delta> deltas) {
    List<Prepared> prepared = stage("deltasync.push.validate", () -> {
      List<Prepared> all = new ArrayList<>(deltas.size());
      for (int i = 0; i < deltas.size(); i++) {
        all.add(prepare(deltas.get(i), "deltas[" + i + "]"));
      }
      return all;
    });
    boolean anyValid = prepared.stream().anyMatch(one -> one.rejection() == null);
    if (!anyValid) {
      return decide(prepared, delta -> {
        throw new IllegalStateException("no valid delta to apply");
      });
    }
    List<DeltaResult> results;
    // Admission before the pool (server.admission): entity locks in a fixed order, or "not now" without a connection.
    io.deltasync.server.admission.WriteAdmission.Permit permit = admission.admit(prepared.stream()
        .filter(one -> one.valid() != null).map(one -> one.valid().key()).toList());
    if (permit.refusal() != null) {
      return decide(prepared, delta -> rejected(delta, permit.refusal()));
    }
    if (Context.current().isCancelled()) {
      // The call ended while the push waited for admission: nothing begun, nothing written, and nobody to answer.
      permit.close();
      return decide(prepared, delta -> cancelled(delta));
    }
    try (permit) {
      results = applyBatch(clientId, prepared);
    } catch (RuntimeException e) {
      if (SyncStore.isUnavailable(e)) {
        log.warn("Database unavailable while applying a batch of {} deltas of client {}: {}", deltas.size(),
            clientId, e.toString());
        return decide(prepared, WriteService::unavailable);
      }
      if (SyncStore.isOverloaded(e)) {
        log.info("Server busy while applying a batch of {} deltas of client {}: {}", deltas.size(), clientId,
            e.toString());
        return decide(prepared, delta -> rejected(delta, Errors.busy()));
      }
      log.error("Unexpected failure applying a batch of {} deltas of client {}", deltas.size(), clientId, e);
      return decide(prepared, delta -> rejected(delta, Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL,
          "internal error while applying the batch; this delta was not applied")));
    }
    committed.run();
    return results;
  }

  /** A delta after validation: either ready to apply or already rejected. */
  record Prepared(Delta delta, String field, ValidDelta valid, List<Edit> edits, byte[] digest,
      DeltaResult rejection) {}

  private Prepared prepare(Delta delta, String field) {
    DeltaValidator.Outcome outcome = validator.validate(delta, field);
    if (!outcome.isValid()) {
      return new Prepared(delta, field, null, null, null, rejected(delta,
          Errors.invalidArgument(outcome.reason(), outcome.violations())));
    }
    return new Prepared(delta, field, outcome.valid(), outcome.edits(), digest(delta), null);
  }

  /**
   * Results in batch order: rejections from validation, "not attempted" past the response budget, {@code apply}
   * for the rest. Run again from scratch on every attempt of the batch transaction, so that a rolled-back attempt
   * leaves nothing behind.
   */
  private List<DeltaResult> decide(List<Prepared> prepared, Function<Delta, DeltaResult> apply) {
    List<DeltaResult> results = new ArrayList<>(prepared.size());
    long responseBytes = 0;
    for (Prepared one : prepared) {
      DeltaResult result;
      if (responseBytes > responseBudget) {
        result = notAttempted(one.delta(), responseBytes);
      } else if (one.rejection() == null && Context.current().isCancelled()) {
        result = cancelled(one.delta());
      } else if (one.rejection() != null) {
        result = one.rejection();
      } else {
        result = apply.apply(one.delta());
      }
      responseBytes += result.getSerializedSize() + 8;
      results.add(result);
    }
    return results;
  }

  /**
   * The batch in one transaction. The first attempt runs the deltas one after the other with no savepoints (a
   * savepoint is a round trip and a subtransaction each, and past 64 subtransactions PostgreSQL's snapshots get
   * slower for everyone). If one delta fails in a way that must undo only that delta (a database error, or a
   * resolution that must be retried and so must not be recorded), the attempt is rolled back and the batch runs
   * again with every delta in its own savepoint.
   *
   * <p>A batch holds the row locks of its deltas until it commits, in the client's order (which is part of its
   * meaning, so it cannot be sorted). Batches of several clients touching the same entities in different orders can
   * therefore deadlock; PostgreSQL aborts one (40P01) and it runs again. If it meets a deadlock again, the batch
   * falls back to one short transaction per delta, in order: such a transaction holds one entity's lock at a time,
   * so it cannot take part in a deadlock cycle, and progress is guaranteed however hot the entities are.
   */
  private List<DeltaResult> applyBatch(String clientId, List<Prepared> prepared) {
    boolean setBased = PlainRuns.fitsResponse(prepared, responseBudget);
    try {
      return applyBatch(clientId, prepared, setBased);
    } catch (ResultsTooLarge e) {
      // The written entities carry more than their deltas (a large conflict_data, say): the set-based statements
      // applied more than one response can answer. Rolled back; the per-delta path stops at the budget instead.
      log.debug("Results of a batch of {} deltas of client {} passed the response budget; applying it delta by "
          + "delta", prepared.size(), clientId);
      return applyBatch(clientId, prepared, false);
    }
  }

  private List<DeltaResult> applyBatch(String clientId, List<Prepared> prepared, boolean setBased) {
    try {
      try {
        return stage("deltasync.push.transaction",
            () -> store.inBatchTransaction(tx -> applyAll(tx, clientId, prepared, false, setBased)));
      } catch (DeltaFailed e) {
        log.debug("A delta of client {} failed alone ({}); applying its batch again with a savepoint per delta",
            clientId, e.getCause() == null ? e.getMessage() : e.getCause().toString());
        return stage("deltasync.push.transaction",
            () -> store.inBatchTransaction(tx -> applyAll(tx, clientId, prepared, true, setBased)));
      }
    } catch (DataAccessException e) {
      if (!SyncStore.isRetryable(e)) {
        throw e;
      }
      log.debug("Batch of client {} met concurrent writers again ({}); applying it one delta per transaction",
          clientId, e.sqlState());
      return stage("deltasync.push.fallback", () -> onePerTransaction(clientId, prepared));
    }
  }

  /**
   * The contended fallback: each delta in its own transaction, in order. Once the database is found unreachable,
   * the remaining deltas are answered UNAVAILABLE without being tried (later deltas may depend on earlier ones).
   */
  private List<DeltaResult> onePerTransaction(String clientId, List<Prepared> prepared) {
    Map<Delta, Prepared> byDelta = new IdentityHashMap<>();
    prepared.forEach(one -> byDelta.put(one.delta(), one));
    boolean[] databaseDown = {false};
    return decide(prepared, delta -> {
      if (databaseDown[0]) {
        return unavailable(delta);
      }
      Prepared one = byDelta.get(delta);
      try {
        return store.inTransaction(tx -> applyOnce(tx, clientId, one.valid(), one.edits(), one.field(),
            one.digest()));
      } catch (RetryLater e) {
        return e.result;
      } catch (RuntimeException e) {
        if (SyncStore.isUnavailable(e)) {
          databaseDown[0] = true;
          return unavailable(delta);
        }
        if (SyncStore.isOverloaded(e)) {
          return rejected(delta, Errors.busy());
        }
        if (e instanceof DataAccessException dae) {
          return SyncStore.isRetryable(dae) ? retryBatch(delta) : refusedByDatabase(delta, clientId, dae);
        }
        log.error("Unexpected failure applying delta {} of client {}", delta.getDeltaId(), clientId, e);
        return rejected(delta, Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL,
            "internal error while applying the delta; it was not applied"));
      }
    });
  }

  private static DeltaResult retryBatch(Delta delta) {
    return rejected(delta, Errors.status(Code.ABORTED, ErrorReason.ERROR_REASON_VERSION_CONFLICT,
        "the delta kept colliding with concurrent writers (deadlock or serialization failure) and was rolled "
            + "back; nothing was applied: retry it (same delta_id)"));
  }

  /**
   * One attempt at the batch. The batch is cut into runs of consecutive deltas in which no entity and no delta id
   * appears twice; in each run, the plain deltas (see {@link PlainRuns}) are claimed and written set-based, in one
   * statement, and then, in batch order, every other delta of the run goes through the per-delta path: the plain
   * ones whose write missed (a conflict: the policy decides), the ones that were not claimed (a retry, answered
   * from its first result), and the ones that are not plain (edits, recreation over a tombstone). Within a run the
   * order of deltas of different entities does not matter, and each entity is written by at most one of them, so
   * batch order holds for every entity: a later delta of the same entity starts the next run and sees the earlier
   * one's write.
   *
   * <p>Without savepoints, any delta failing alone (or the set-based statement failing) abandons the attempt
   * ({@link DeltaFailed}). With savepoints, the set-based statement of a run has its own savepoint: if the
   * database refuses it (one delta's data breaks a constraint), it is rolled back and that run's deltas go through
   * the per-delta path one by one, each in its own savepoint, so only the bad delta is rejected.
   */
  private List<DeltaResult> applyAll(WriteTransaction tx, String clientId, List<Prepared> prepared,
      boolean savepoints, boolean setBased) {
    // Results are written in one statement at the end; a savepoint that rolls back forgets the ones it recorded.
    tx.deferResults();
    DeltaResult[] results = new DeltaResult[prepared.size()];
    long responseBytes = 0;
    for (int start = 0; start < prepared.size(); ) {
      int end = PlainRuns.runEnd(prepared, start);
      Map<Integer, WriteClock> clocks = new HashMap<>();
      int from = start;
      Map<String, WriteTransaction.PlainOutcome> outcomes = setBased && !Context.current().isCancelled()
          ? stage("deltasync.push.run",
              () -> writePlain(tx, clientId, prepared.subList(from, end), from, clocks, savepoints)) : Map.of();
      for (int i = start; i < end; i++) {
        if (outcomes.get(prepared.get(i).delta().getDeltaId()) instanceof WriteTransaction.PlainWritten written
            && clocks.containsKey(i)) {
          Prepared one = prepared.get(i);
          // Its claim stored the written entity (V19): a retry builds this same result from it, nothing more is
          // written for it.
          results[i] = applied(one.delta(), written.entity(), null);
          responseBytes += results[i].getSerializedSize() + 8;
        }
      }
      if (!outcomes.isEmpty() && responseBytes > responseBudget) {
        throw new ResultsTooLarge();
      }
      for (int i = start; i < end; i++) {
        if (results[i] != null) {
          continue;
        }
        Prepared one = prepared.get(i);
        WriteTransaction.PlainOutcome outcome = clocks.containsKey(i)
            ? outcomes.get(one.delta().getDeltaId()) : null;
        if (responseBytes > responseBudget) {
          results[i] = notAttempted(one.delta(), responseBytes);
          if (outcome != null) {
            tx.releaseClaim(clientId, one.delta().getDeltaId());
          }
        } else if (one.rejection() != null) {
          results[i] = one.rejection();
        } else if (outcome == null && Context.current().isCancelled()) {
          results[i] = cancelled(one.delta());
        } else if (outcome != null) {
          // Claimed by the set-based statement, and its write missed: the conflict policy decides, as after the
          // single-delta claim-and-write. The triggers learn the writer from the settings again for these writes.
          WriteClock clock = clocks.get(i);
          results[i] = stage("deltasync.push.delta", () -> savepoints
              ? inSavepoint(tx, clientId, one, sp -> resolveClaimed(sp, clientId, one, clock), true)
              : directly(() -> resolveClaimed(tx, clientId, one, clock)));
        } else {
          results[i] = stage("deltasync.push.delta",
              () -> savepoints ? applyInSavepoint(tx, clientId, one) : applyDirectly(tx, clientId, one));
        }
        responseBytes += results[i].getSerializedSize() + 8;
      }
      start = end;
    }
    tx.flushResults();
    return List.of(results);
  }

  /**
   * The set-based statement of one run; the write clock of every delta it sent is put in {@code clocks} (by batch
   * index). Empty when fewer than two deltas of the run are plain (one delta is cheaper through the single-delta
   * claim-and-write) or when, with savepoints, the database refused the statement.
   */
  private Map<String, WriteTransaction.PlainOutcome> writePlain(WriteTransaction tx, String clientId,
      List<Prepared> run, int offset, Map<Integer, WriteClock> clocks, boolean savepoints) {
    List<WriteTransaction.PlainWrite> writes = new ArrayList<>(run.size());
    Map<Integer, WriteClock> sent = new HashMap<>();
    for (int i = 0; i < run.size(); i++) {
      Prepared one = run.get(i);
      Optional<WriteTransaction.PlainKind> kind = PlainRuns.kind(one);
      if (kind.isEmpty()) {
        continue;
      }
      ValidDelta valid = one.valid();
      WriteClock clock = WriteClock.of(one.delta(), clientId, this.clock.instant(), maxClockSkew);
      sent.put(offset + i, clock);
      writes.add(new WriteTransaction.PlainWrite(one.delta().getDeltaId(), one.digest(), kind.get(), valid.key(),
          valid.base(), valid.dataJson(), clock.micros(), one.delta().getData()));
    }
    if (writes.size() < 2) {
      return Map.of();
    }
    Map<String, WriteTransaction.PlainOutcome> outcomes;
    if (!savepoints) {
      outcomes = directly(() -> tx.claimAndWritePlain(clientId, writes));
    } else {
      try {
        outcomes = tx.inSavepoint(sp -> sp.claimAndWritePlain(clientId, writes));
      } catch (DataAccessException e) {
        if (SyncStore.isRetryable(e) || SyncStore.isUnavailable(e)) {
          throw e;
        }
        log.debug("Set-based write of {} deltas of client {} refused ({}); applying them one by one", writes.size(),
            clientId, e.sqlState());
        return Map.of();
      }
    }
    clocks.putAll(sent);
    return outcomes;
  }

  /** A delta claimed (and missed) by the set-based statement, through the conflict policy. */
  private DeltaResult resolveClaimed(WriteTransaction tx, String clientId, Prepared one, WriteClock clock) {
    Delta delta = one.delta();
    tx.identifyWriter(clientId, delta.getDeltaId(), clock.micros());
    DeltaResult result = write(tx, clientId, one.valid(), one.edits(), one.field(), clock, true,
        OperationalMerge.Plan.NONE);
    tx.recordResult(clientId, delta.getDeltaId(), result.toByteArray());
    return result;
  }

  private static DeltaResult cancelled(Delta delta) {
    // The client gave up on the call (cancelled, or past its deadline): nobody will read these results, so the
    // rest is not applied; what was applied commits, and a retry by delta_id answers it.
    return rejected(delta, Errors.status(Code.CANCELLED, ErrorReason.ERROR_REASON_NOT_ATTEMPTED,
        "not attempted: the call was cancelled or passed its deadline; push this delta again (same delta_id)"));
  }

  /** Runs one delta's work in an attempt without savepoints: a failure that is the delta's own abandons it. */
  private static <T> T directly(java.util.function.Supplier<T> work) {
    try {
      return work.get();
    } catch (RetryLater e) {
      throw new DeltaFailed(e);
    } catch (RuntimeException e) {
      if (SyncStore.isUnavailable(e) || SyncStore.isOverloaded(e)
          || e instanceof DataAccessException dae && SyncStore.isRetryable(dae)) {
        throw e;  // not this delta's fault: the batch runs again, or is answered unavailable or busy as a whole
      }
      throw new DeltaFailed(e);
    }
  }

  private DeltaResult applyDirectly(WriteTransaction tx, String clientId, Prepared one) {
    return directly(() -> applyOnce(tx, clientId, one.valid(), one.edits(), one.field(), one.digest()));
  }

  private DeltaResult applyInSavepoint(WriteTransaction tx, String clientId, Prepared one) {
    return inSavepoint(tx, clientId, one,
        sp -> applyOnce(sp, clientId, one.valid(), one.edits(), one.field(), one.digest()), false);
  }

  /**
   * One delta's work in its own savepoint. {@code claimedOutside}: its idempotency claim was made before the
   * savepoint (by the set-based statement), so a result that must not be recorded also drops the claim, exactly as
   * when the claim rolls back with the savepoint.
   */
  private DeltaResult inSavepoint(WriteTransaction tx, String clientId, Prepared one,
      Function<WriteTransaction, DeltaResult> work, boolean claimedOutside) {
    Delta delta = one.delta();
    DeltaResult unrecorded;
    try {
      return tx.inSavepoint(work);
    } catch (RetryLater e) {
      unrecorded = e.result;  // rolled back to the savepoint: the claim goes too, so the retry gets a fresh chance
    } catch (DataAccessException e) {
      if (SyncStore.isRetryable(e) || SyncStore.isUnavailable(e)) {
        throw e;  // the whole batch runs again, or fails as unavailable
      }
      if (SyncStore.isOverloaded(e)) {
        // statement_timeout cancelled this delta's statement (a lock held elsewhere, a slow database): busy, not
        // the client's data and not ours
        log.info("Server busy while applying delta {} of client {}: {}", delta.getDeltaId(), clientId, e.toString());
        unrecorded = rejected(delta, Errors.busy());
      } else {
        unrecorded = refusedByDatabase(delta, clientId, e);
      }
    } catch (RuntimeException e) {
      if (SyncStore.isUnavailable(e)) {
        throw e;
      }
      if (SyncStore.isOverloaded(e)) {
        log.info("Server busy while applying delta {} of client {}: {}", delta.getDeltaId(), clientId, e.toString());
        unrecorded = rejected(delta, Errors.busy());
      } else {
        log.error("Unexpected failure applying delta {} of client {}", delta.getDeltaId(), clientId, e);
        unrecorded = rejected(delta, Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL,
            "internal error while applying the delta; it was not applied"));
      }
    }
    if (claimedOutside) {
      tx.releaseClaim(clientId, delta.getDeltaId());
    }
    return unrecorded;
  }

  /**
   * A delta the database itself refused. Data exceptions (class 22: a string PostgreSQL cannot store, a number
   * out of range) and integrity violations (class 23: a CHECK constraint) are the client's data: INVALID_ARGUMENT,
   * with PostgreSQL's one-line reason. Anything else is ours: INTERNAL, with nothing from the database on the wire.
   */
  private static DeltaResult refusedByDatabase(Delta delta, String clientId, DataAccessException e) {
    String state = e.sqlState() == null ? "" : e.sqlState();
    if (state.startsWith("22") || state.startsWith("23")) {
      String reason = databaseMessage(e);
      return rejected(delta, Errors.status(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_INVALID_ARGUMENT,
          "the database refused the delta (SQLSTATE " + state + (reason.isEmpty() ? "" : ": " + reason)
              + "); it was not applied, the rest of its batch was"));
    }
    log.error("Database error applying delta {} of client {}", delta.getDeltaId(), clientId, e);
    return rejected(delta, Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL,
        "internal error while applying the delta; it was not applied"));
  }

  /** PostgreSQL's primary message, without the statement jOOQ adds to its exception messages. */
  private static String databaseMessage(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
        String message = psql.getServerErrorMessage().getMessage();
        return message == null ? "" : message.lines().findFirst().orElse("");
      }
    }
    return "";
  }

  /** The set-based statements applied more than one response can answer: the attempt is abandoned. */
  private static final class ResultsTooLarge extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ResultsTooLarge() {
      super("results past the response budget", null, false, false);
    }
  }

  /** One delta of a batch failed alone: the attempt without savepoints is abandoned. */
  private static final class DeltaFailed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DeltaFailed(Throwable cause) {
      super(cause.getMessage(), cause, false, false);
    }
  }

  /**
   * Every result carries an entity, so 500 small deltas that each meet a large document would make a response far
   * bigger than a client accepts (gRPC's default is 4 MiB). Once the results reach the budget, the remaining deltas
   * are not attempted, and say so: the client pushes them again.
   */
  private static DeltaResult notAttempted(Delta delta, long responseBytes) {
    return rejected(delta, Errors.status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
        "not attempted: the results before it already take " + responseBytes + " bytes, near the message size "
            + "limit; push this delta again (same delta_id) in another batch"));
  }

  private DeltaResult applyOnce(WriteTransaction tx, String clientId, ValidDelta valid, List<Edit> edits,
      String field, byte[] digest) {
    Delta delta = valid.delta();
    WriteClock writeClock = WriteClock.of(delta, clientId, clock.instant(), maxClockSkew);
    // Everything a delta's edits need is read and transformed before its first write (the claim below): for the
    // first delta of a transaction that is before PostgreSQL assigns the transaction an id, which would hold back
    // the change feed's watermark for every client while the transform runs. Later deltas of a batch find the id
    // assigned by the deltas before them; for them the bound on edits per delta bounds the time it is held.
    OperationalMerge.Plan plan = edits.isEmpty() ? OperationalMerge.Plan.NONE : merge.plan(tx, clientId, valid,
        edits, field, policies.choose(delta).policy() == ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM);
    WriteTransaction.Claim claim;
    WriteTransaction.FirstWrite first = null;
    if (edits.isEmpty() && delta.getOperation() == Operation.OPERATION_CREATE && valid.base().isEmpty()) {
      first = tx.claimAndInsert(clientId, delta.getDeltaId(), digest, writeClock.micros(), valid.key(),
          valid.dataJson(), delta.getData());
      claim = first.claim();
    } else if (edits.isEmpty() && delta.getOperation() == Operation.OPERATION_UPDATE) {
      first = tx.claimAndReplace(clientId, delta.getDeltaId(), digest, writeClock.micros(), valid.key(),
          valid.base(), valid.dataJson(), delta.getData());
      claim = first.claim();
    } else {
      claim = tx.claimDelta(clientId, delta.getDeltaId(), digest, writeClock.micros(), delta.getData());
    }
    if (claim instanceof WriteTransaction.AlreadyApplied applied) {
      if (!applied.sameContent()) {
        return rejected(delta, Errors.status(Code.ALREADY_EXISTS, ErrorReason.ERROR_REASON_DELTA_ID_REUSED,
            "delta_id '" + delta.getDeltaId() + "' was already used by this client for a different delta; "
                + "every delta needs its own id (retries reuse the id with identical content)"));
      }
      // A delta applied by the claim-and-write is answered with the entity its claim stored (V19): the same
      // result, built the same way as the first time.
      return applied.result() != null ? replay(applied.result())
          : applied(delta, applied.written(), null).toBuilder().setReplayed(true).build();
    }
    if (first != null && first.written().isPresent()) {
      // Applied by the plain write; its claim stored the written entity, which is all its result needs (a retry
      // builds the same result from it), so nothing more is written for it.
      return applied(delta, first.written().get(), null);
    }
    if (first != null) {
      // The claim-and-write named its writer in the row, not in the settings the resolution's writes log with
      tx.identifyWriter(clientId, delta.getDeltaId(), writeClock.micros());
    }
    DeltaResult result = write(tx, clientId, valid, edits, field, writeClock, first != null, plan);
    tx.recordResult(clientId, delta.getDeltaId(), result.toByteArray());
    return result;
  }

  /**
   * First the plain compare-and-set the delta asks for (unless {@code firstWriteMissed}: it was made together with
   * the idempotency claim, and missed); on a miss, the conflict policy decides, and its decision is
   * carried out with a compare-and-set on the version just read. If that misses too (another writer got there
   * first), the policy decides again on the newer state. Every write is one SQL statement with the expected
   * version in its WHERE clause; the reads only feed the decision.
   *
   * <p>An update with edits applies them to the document at its base version (read, apply, compare-and-set on that
   * version). On a miss, operational transform merges them if it is the policy; if it cannot (missing history, an
   * intervening whole-data write, edits that cannot be transformed), the fallback policy decides on the client's
   * whole document, which is its edits applied to its base document.
   */
  private DeltaResult write(WriteTransaction tx, String clientId, ValidDelta valid, List<Edit> edits, String field,
      WriteClock clock, boolean firstWriteMissed, OperationalMerge.Plan plan) {
    Delta delta = valid.delta();
    EntityKey key = valid.key();
    EntityStore entities = tx.entities();
    if (firstWriteMissed) {
      // The plain write the delta asks for was made together with the claim, and missed: a conflict.
    } else if (edits.isEmpty()) {
      Optional<Entity> written = switch (delta.getOperation()) {
        case OPERATION_CREATE -> {
          Optional<Entity> created = entities.insert(key, valid.dataJson(), clientId);
          yield created.isEmpty() && !valid.base().isEmpty()
              ? entities.recreate(key, valid.base(), valid.dataJson(), clientId) : created;
        }
        case OPERATION_UPDATE -> entities.replaceData(key, valid.base(), valid.dataJson(), clientId);
        case OPERATION_DELETE -> entities.markDeleted(key, valid.base(), clientId);
        default -> throw new IllegalStateException("validated delta with operation " + delta.getOperation());
      };
      if (written.isPresent()) {
        return applied(delta, written.get(), null);
      }
    } else {
      switch (merge.applyAtBase(tx, clientId, valid, edits, field, plan)) {
        case OperationalMerge.Written written -> {
          return applied(delta, written.entity(), null);
        }
        case OperationalMerge.Invalid invalid -> {
          return invalidEdits(delta, invalid);
        }
        case OperationalMerge.Missed missed -> { }  // a conflict: resolved below
        case OperationalMerge.Fallback fallback -> throw new IllegalStateException("no fallback without a conflict");
      }
    }
    ConflictPolicies.Choice choice = policies.choose(delta);
    OperationalMerge.ClientIntent intent = null;
    for (int attempt = 0; attempt < MAX_RESOLUTION_ATTEMPTS; attempt++) {
      Optional<Entity> found = entities.find(key);
      if (found.isEmpty()) {
        if (delta.getOperation() != Operation.OPERATION_CREATE) {
          // Thrown, not returned, so that it is not recorded against the delta's id: absent may only mean "not yet"
          // (the create was reordered behind this delta, or is still in flight on another stream), and a retry
          // after the create arrived must apply instead of being answered NOT_FOUND for ever.
          throw new RetryLater(rejected(delta, Errors.status(Code.NOT_FOUND, ErrorReason.ERROR_REASON_ENTITY_NOT_FOUND,
              "no entity " + key.entityType() + "/" + key.entityId() + " in scope " + key.scope())));
        }
        Optional<Entity> created = entities.insert(key, valid.dataJson(), clientId);
        if (created.isPresent()) {
          return applied(delta, created.get(), null);
        }
        continue;  // purged and created again concurrently: look again
      }
      Entity current = found.get();
      if (delta.getOperation() == Operation.OPERATION_DELETE && current.getIsDeleted()) {
        return applied(delta, current, null);  // already gone: the client's intent holds, nothing to change
      }
      if (choice.policy() == ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM) {
        switch (merge.merge(tx, clientId, valid, edits, field, current, plan)) {
          case OperationalMerge.Written merged -> {
            return applied(delta, merged.entity(), ConflictResolution.newBuilder().setPolicy(choice.policy())
                .setOutcome(merged.unchanged() ? ResolutionOutcome.RESOLUTION_OUTCOME_UNCHANGED
                    : ResolutionOutcome.RESOLUTION_OUTCOME_MERGED).setExplanation(merged.explanation())
                .build()).toBuilder().addAllRebaseEdits(OperationCodec.toProto(merged.rebase())).build();
          }
          case OperationalMerge.Invalid invalid -> {
            return invalidEdits(delta, invalid);
          }
          case OperationalMerge.Missed missed -> {
            continue;  // another writer got there first: transform against its change too
          }
          case OperationalMerge.Fallback fallback -> choice = policies.fallback(delta, fallback.why());
        }
      }
      Delta asData = delta;
      if (!edits.isEmpty()) {
        intent = intent != null ? intent : merge.clientDocument(tx, valid, edits, field);
        switch (intent) {
          case OperationalMerge.ClientDocument document -> asData = delta.toBuilder().setData(document.document())
              .build();
          case OperationalMerge.Invalid invalid -> {
            return invalidEdits(delta, invalid);
          }
          case OperationalMerge.BaseGone gone -> {
            // Without the base document the edits mean nothing as a whole document; keeping the server's state
            // and saying so is the only choice that cannot lose or invent data.
            String why = "the document at base row_version " + gone.baseVersion() + " is no longer in the change "
                + "log, so the edits cannot be turned into a whole document for " + choice.policy().name()
                + "; the server's state was kept (apply the edits to the returned entity and push again)";
            return conflict(delta, current, ConflictResolution.newBuilder().setPolicy(choice.policy())
                .setOutcome(ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON)
                .setExplanation(choice.explanation().isEmpty() ? why : choice.explanation() + "; " + why).build());
          }
        }
      }
      Optional<DeltaResult> result = resolve(tx, clientId, valid, asData, clock, current, choice);
      if (result.isPresent()) {
        return result.get();
      }
    }
    // Thrown, not returned: the delta must roll back (to its savepoint) so that its idempotency claim goes with it, or the
    // retry this result asks for would be answered with this very result for ever.
    throw new RetryLater(rejected(delta, Errors.status(Code.ABORTED, ErrorReason.ERROR_REASON_VERSION_CONFLICT,
        "the entity kept changing while the conflict was being resolved; nothing was applied: retry the delta "
            + "(same delta_id)")));
  }

  /** A result that must not be recorded for the delta's id: the client is meant to retry and get another. */
  private static final class RetryLater extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient DeltaResult result;

    RetryLater(DeltaResult result) {
      super(result.getError().getMessage(), null, false, false);
      this.result = result;
    }
  }

  /**
   * One round of resolution; empty if the decision's compare-and-set missed. {@code asData} is the delta with the
   * client's whole document in data (for a delta with edits: its edits applied to its base document).
   */
  private static Optional<DeltaResult> resolve(WriteTransaction tx, String clientId, ValidDelta valid,
      Delta asData, WriteClock clock, Entity current, ConflictPolicies.Choice choice) {
    Delta delta = valid.delta();
    EntityKey key = valid.key();
    EntityStore entities = tx.entities();
    Expected now = new Expected(current.getRowVersion(), "");
    WriteClocks clocks = tx.clocks(key).orElseThrow();
    ConflictResolver.Input input = new ConflictResolver.Input(delta.getOperation(), asData.getData(), current,
        baseData(tx, valid), fieldClocks(clocks), clockOf(clocks.entity()), clock);
    ConflictResolver.Decision decision = ConflictResolver.decide(choice.policy(), input);
    ConflictResolution.Builder resolution = ConflictResolution.newBuilder().setPolicy(choice.policy())
        .setExplanation(choice.explanation());
    return switch (decision) {
      case ConflictResolver.KeepServer keep -> Optional.of(conflict(delta, current, resolution
          .setOutcome(ResolutionOutcome.RESOLUTION_OUTCOME_SERVER_WON).build()));
      case ConflictResolver.WriteDelete delete -> entities.markDeleted(key, now, clientId)
          .map(entity -> applied(delta, entity, resolution
              .setOutcome(ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON).build()));
      case ConflictResolver.WriteData data -> {
        String json = Json.toJson(data.data());
        Optional<Entity> entity = current.getIsDeleted()
            ? entities.recreate(key, now, json, clientId)
            : entities.replaceData(key, now, json, clientId);
        yield entity.map(e -> applied(delta, e, resolution.setOutcome(data.outcome())
            .addAllClientFields(data.clientFields()).addAllServerFields(data.serverFields()).build()));
      }
      case ConflictResolver.Queue queue -> {
        UUID conflictId = UUID.randomUUID();
        // Bookkeeping, not a write (docs/conflicts.md, "Manual"): the entity keeps its version, so no other
        // client's compare-and-set misses because of this conflict. The row is locked at the version the decision
        // was made on, and the summary read after the lock sees every conflict queued before.
        Optional<Entity> marked = entities.lock(key, now).map(locked -> {
          // Queued with the whole document, so that taking the client's side writes what the client meant.
          tx.queueConflict(conflictId, key, clientId, asData, current);
          return entities.recordConflictState(key, "conflict", Json.toJson(conflictData(
              tx.openConflicts(key, SUMMARY_IDS), conflictId, clientId, asData)));
        });
        yield marked.map(entity -> conflict(delta, entity, resolution
            .setOutcome(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED).setConflictId(conflictId.toString()).build()));
      }
    };
  }

  /** How many of the newest open conflict ids the entity's conflict_data names; ListConflicts has them all. */
  static final int SUMMARY_IDS = 10;

  /**
   * What the entity's conflict_data says while conflicts are open, bounded whatever their number: how many are
   * open, the ids of the newest few, and the newest (conflictId, by clientId with delta) in detail. The details of
   * every conflict stay in the queue (ListConflicts).
   */
  static Struct conflictData(WriteTransaction.OpenConflicts open, UUID conflictId, String clientId, Delta delta) {
    ListValue.Builder ids = ListValue.newBuilder();
    for (UUID id : open.newestIds()) {
      ids.addValues(Value.newBuilder().setStringValue(id.toString()));
    }
    Struct.Builder data = Struct.newBuilder()
        .putFields("open_conflicts", Value.newBuilder().setNumberValue(open.count()).build())
        .putFields("conflict_ids", Value.newBuilder().setListValue(ids).build())
        .putFields("conflict_id", Value.newBuilder().setStringValue(conflictId.toString()).build())
        .putFields("client_id", Value.newBuilder().setStringValue(clientId).build())
        .putFields("operation", Value.newBuilder().setStringValue(delta.getOperation().name()).build())
        .putFields("base_row_version", Value.newBuilder().setNumberValue(delta.getBaseRowVersion()).build());
    // The client's document one level down must still fit what clients can parse (32 levels); a deeper one stays
    // in the conflict record only (ListConflicts), or the entity could never be carried again.
    if (delta.hasData() && Json.depth(delta.getData()) < Json.MAX_DEPTH) {
      data.putFields("client_data", Value.newBuilder().setStructValue(delta.getData()).build());
    }
    return data.build();
  }

  /** The document the delta was based on: from the change log for updates, nothing for creates. */
  private static Optional<Struct> baseData(WriteTransaction tx, ValidDelta valid) {
    Delta delta = valid.delta();
    if (delta.getOperation() == Operation.OPERATION_CREATE) {
      return Optional.of(Struct.getDefaultInstance());
    }
    long base = baseVersion(tx, valid);
    return base > 0 ? tx.dataAt(valid.key(), base) : Optional.empty();
  }

  /**
   * The row_version a delta is based on; 0 if unknown. A delta that names only an etag is based on the version of
   * the change that etag was issued for. The number an etag starts with is not trusted on its own: an etag that
   * matches no change of this entity (made up, from another entity, or from history cleaned up) says nothing about
   * which document the client had, and taking its prefix would merge against the wrong base.
   */
  static long baseVersion(WriteTransaction tx, ValidDelta valid) {
    Delta delta = valid.delta();
    if (delta.getBaseRowVersion() > 0) {
      return delta.getBaseRowVersion();
    }
    long claimed = versionOfEtag(delta.getBaseEtag());
    return claimed > 0 && tx.hasLoggedEtag(valid.key(), claimed, delta.getBaseEtag()) ? claimed : 0;
  }

  private static DeltaResult invalidEdits(Delta delta, OperationalMerge.Invalid invalid) {
    return rejected(delta, Errors.invalidArgument(DeltaValidator.reason(invalid.violations()),
        invalid.violations()));
  }

  /** Etags start with the version they were derived from ("12-ab34…"). */
  private static long versionOfEtag(String etag) {
    int dash = etag.indexOf('-');
    try {
      return dash > 0 ? Long.parseLong(etag.substring(0, dash)) : 0;
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static Map<String, WriteClock> fieldClocks(WriteClocks clocks) {
    Map<String, WriteClock> fields = new HashMap<>();
    clocks.fields().forEach((field, stamp) -> fields.put(field, clockOf(stamp)));
    return fields;
  }

  private static WriteClock clockOf(WriteClocks.Stamp stamp) {
    return new WriteClock(stamp.micros(), stamp.writer());
  }

  private static String describeBase(Delta delta) {
    if (delta.getBaseRowVersion() > 0) {
      return "row_version " + delta.getBaseRowVersion()
          + (delta.getBaseEtag().isEmpty() ? "" : " with etag " + delta.getBaseEtag());
    }
    return "etag " + delta.getBaseEtag();
  }

  private static DeltaResult applied(Delta delta, Entity entity, ConflictResolution resolution) {
    DeltaResult.Builder result = DeltaResult.newBuilder().setDeltaId(delta.getDeltaId())
        .setStatus(DeltaStatus.DELTA_STATUS_APPLIED).setEntity(entity);
    if (resolution != null) {
      result.setResolution(resolution);
    }
    return result.build();
  }

  /** Not applied as sent: the result carries the entity the client must now hold, and why. */
  private static DeltaResult conflict(Delta delta, Entity current, ConflictResolution resolution) {
    ErrorReason reason;
    String message;
    if (current.getIsDeleted()) {
      reason = ErrorReason.ERROR_REASON_ENTITY_DELETED;
      message = "the entity was deleted at row_version " + current.getRowVersion()
          + (delta.getOperation() == Operation.OPERATION_CREATE ? "; to create it again, send OPERATION_CREATE "
              + "with base_row_version " + current.getRowVersion() : "");
    } else if (delta.getOperation() == Operation.OPERATION_CREATE) {
      reason = ErrorReason.ERROR_REASON_ENTITY_EXISTS;
      message = "the entity already exists at row_version " + current.getRowVersion();
    } else {
      reason = ErrorReason.ERROR_REASON_VERSION_CONFLICT;
      message = "base is " + describeBase(delta) + " but the entity is at row_version " + current.getRowVersion()
          + " (etag " + current.getEtag() + ")";
    }
    String decided = resolution.getOutcome() == ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED
        ? "; queued for manual resolution as conflict " + resolution.getConflictId()
        : "; " + resolution.getPolicy().name() + " kept the server's state";
    return DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_CONFLICT)
        .setEntity(current)
        .setResolution(resolution)
        .setError(Errors.status(Code.ABORTED, reason, message + decided, Map.of(
            "current_row_version", Long.toString(current.getRowVersion()),
            "current_etag", current.getEtag())))
        .build();
  }

  private static DeltaResult rejected(Delta delta, com.google.rpc.Status error) {
    return DeltaResult.newBuilder().setDeltaId(delta.getDeltaId()).setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
        .setError(error).build();
  }

  private static DeltaResult unavailable(Delta delta) {
    return rejected(delta, Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_DATABASE_UNAVAILABLE,
        "the database is unavailable; the delta was not applied: retry it (same delta_id) with backoff"));
  }

  /** The first result of a delta applied before, marked as replayed. */
  private static DeltaResult replay(byte[] stored) {
    try {
      return DeltaResult.parseFrom(stored).toBuilder().setReplayed(true).build();
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("stored result is not a DeltaResult", e);
    }
  }

  /** SHA-256 of the delta's deterministic encoding (map entries sorted), to tell a retry from a reused id. */
  static byte[] digest(Delta delta) {
    try {
      // Into an array of the exact size: no stream, no 4 KiB buffer of a stream-backed CodedOutputStream, no copy.
      byte[] bytes = new byte[delta.getSerializedSize()];
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.useDeterministicSerialization();
      delta.writeTo(out);
      out.checkNoSpaceLeft();
      return sha256().digest(bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // A fresh digest per call, cloned from one made at start: MessageDigest.getInstance looks the algorithm up among
  // the providers every time, which cost more than the hashing itself in a single-delta profile (docs/performance.md
  // "Sixth part"). Calls run on virtual threads, one per call, so a thread-local instance would not be reused.
  private static final MessageDigest SHA_256 = newSha256();

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }

  private static MessageDigest sha256() {
    try {
      return (MessageDigest) SHA_256.clone();
    } catch (CloneNotSupportedException e) {
      return newSha256();  // a provider whose digests cannot be cloned: as before
    }
  }
}

package io.deltasync.server.admission;

import com.google.common.util.concurrent.Striped;
import com.google.rpc.Code;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.EntityKey;
import io.deltasync.v1.ErrorReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;

/**
 * Decides, before a push takes a database connection, whether it may go ahead now.
 *
 * <p><b>Per-entity admission.</b> A batch transaction holds the row locks of every entity it writes until it
 * commits. When many clients write the same few entities, the pushes behind a batch used to wait inside PostgreSQL
 * for those row locks while each held a pool connection; the pool ran dry and pushes of unrelated entities were
 * answered SERVER_BUSY for minutes (the 50-client convoy, docs/reliability.md). Here a push first takes an
 * in-process lock per entity (striped: entities hash onto a number of locks, made lazily and dropped when unused),
 * all of them in one fixed order (stripe index, Guava's {@link Striped#bulkGet}), so two pushes can never wait for
 * each other in a cycle, and only then asks the pool. The stripes are many (2^30 by default) so that pushes of
 * different entities practically never share one: with the former 1,024 eager stripes, a batch of 500 entities took
 * about 40% of them, any two large batches of disjoint entities met on a stripe, and a push waiting for one stripe
 * held its lower ones, so 8 clients' batches ran one after the other (issue 11, docs/performance.md "Eighth part").
 * Waiters hold no connection, so the pool stays free for pushes of other entities. A push that
 * waits longer than the bound is answered RESOURCE_EXHAUSTED / SERVER_BUSY with a retry delay: nothing was done.
 * Admission is per node; writers on other nodes and plain SQL still meet in PostgreSQL's row locks, as before.
 *
 * <p><b>Database known down.</b> While the health check finds the database unreachable, a push is answered
 * UNAVAILABLE / DATABASE_UNAVAILABLE at once instead of waiting for a pool connection that cannot come (5 s per
 * attempt, about 15 s per push before).
 */
public final class WriteAdmission {
  /** Admits everything at once: no entity locks, never refuses (the behaviour without admission control). */
  public static final WriteAdmission NONE = new WriteAdmission(0, Duration.ofSeconds(1), () -> false);

  private static final Permit NOTHING_HELD = new Permit(List.of(), null);

  private final Striped<Lock> locks;
  private final long waitNanos;
  private final BooleanSupplier databaseDown;
  private final AtomicInteger waiting = new AtomicInteger();
  private final AtomicLong refusedBusy = new AtomicLong();
  private final AtomicLong refusedDown = new AtomicLong();

  /**
   * Creates the admission.
   *
   * @param stripes how many entity locks (0 = no per-entity admission)
   * @param maxWait the longest a push waits for its entities
   * @param databaseDown whether the database is known to be down now (the health check's last verdict)
   */
  public WriteAdmission(int stripes, Duration maxWait, BooleanSupplier databaseDown) {
    if (stripes < 0) {
      throw new IllegalArgumentException("stripes: " + stripes + " (expected: >= 0)");
    }
    // Lazy and weak: only the stripes of entities being admitted exist (a held or awaited lock is strongly reachable
    // from its push), so the count bounds collisions, not memory.
    this.locks = stripes == 0 ? null : Striped.lazyWeakLock(stripes);
    this.waitNanos = maxWait.toNanos();
    this.databaseDown = Objects.requireNonNull(databaseDown, "databaseDown");
  }

  /**
   * Admits a push writing {@code keys}: returns a permit to close once its transaction has ended (committed or
   * rolled back), or a refusal (a permit whose {@link Permit#refusal()} is set, holding nothing).
   */
  public Permit admit(Collection<EntityKey> keys) {
    if (databaseDown.getAsBoolean()) {
      refusedDown.incrementAndGet();
      return new Permit(List.of(), Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_DATABASE_UNAVAILABLE,
          "the database is unavailable (the server's health check cannot reach it); the delta was not applied: "
              + "retry it (same delta_id) with backoff"));
    }
    if (locks == null || keys.isEmpty()) {
      return NOTHING_HELD;
    }
    List<Lock> held = new ArrayList<>();
    long deadline = System.nanoTime() + waitNanos;
    waiting.incrementAndGet();
    try {
      // bulkGet returns the stripes sorted by index (duplicates included, which a reentrant lock takes twice): every
      // push takes its locks in the same global order, so waiting can never form a cycle.
      for (Lock lock : locks.bulkGet(keys)) {
        if (!lock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          release(held);
          refusedBusy.incrementAndGet();
          return new Permit(List.of(), Errors.busy());
        }
        held.add(lock);
      }
      return new Permit(held, null);
    } catch (InterruptedException e) {
      release(held);
      Thread.currentThread().interrupt();
      return new Permit(List.of(), Errors.status(Code.CANCELLED, ErrorReason.ERROR_REASON_NOT_ATTEMPTED,
          "not attempted: the call ended while it waited for admission; push this delta again (same delta_id)"));
    } catch (RuntimeException | Error e) {
      release(held);
      throw e;
    } finally {
      waiting.decrementAndGet();
    }
  }

  private static void release(List<Lock> held) {
    for (int i = held.size() - 1; i >= 0; i--) {
      held.get(i).unlock();
    }
  }

  /** Pushes waiting for their entities' admission now. */
  public int waiting() {
    return waiting.get();
  }

  /** Pushes answered SERVER_BUSY because their entities stayed taken past the bound. */
  public long refusedBusy() {
    return refusedBusy.get();
  }

  /** Pushes answered DATABASE_UNAVAILABLE at once because the database was known down. */
  public long refusedDatabaseDown() {
    return refusedDown.get();
  }

  /**
   * The entity locks a push holds (release with {@link #close()}, on the thread that took them), or its refusal.
   */
  public static final class Permit implements AutoCloseable {
    private final List<Lock> held;
    private final com.google.rpc.Status refusal;

    private Permit(List<Lock> held, com.google.rpc.Status refusal) {
      this.held = held;
      this.refusal = refusal;
    }

    /** Why the push may not go ahead (answer every delta with it; nothing was done), or null when admitted. */
    public com.google.rpc.Status refusal() {
      return refusal;
    }

    @Override
    public void close() {
      release(held);
    }
  }
}

package io.deltasync.server.admission;

import com.google.protobuf.Any;
import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import io.deltasync.server.error.Errors;
import io.deltasync.v1.ErrorReason;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Admission of Sync hellos: at most {@code concurrency} streams at a time do the work between their hello and their
 * first page (resolving the cursor, the first reads of the initial state or of catch-up, joining the live feed);
 * the others wait their turn, in order. A deploy or a network blip that reconnects thousands of devices at once is
 * then spread over seconds instead of thousands of streams competing for the pool and the cores, which starved the
 * live delivery of the streams already connected. A hello waits, it is not refused, up to {@code wait}; past it the
 * client is told RESOURCE_EXHAUSTED / SERVER_BUSY with a RetryInfo, and may send the hello again on the same stream.
 */
public final class HelloAdmission {
  /** No bound: every hello goes ahead at once. */
  public static final HelloAdmission NONE = new HelloAdmission(0, Duration.ZERO);

  private final int concurrency;
  private final Duration wait;
  private final Semaphore permits;

  /**
   * Creates the admission.
   *
   * @param concurrency how many streams may be between hello and first page at once; 0 = no bound
   * @param wait how long a hello waits for its turn before it is answered SERVER_BUSY
   */
  public HelloAdmission(int concurrency, Duration wait) {
    if (concurrency < 0) {
      throw new IllegalArgumentException("concurrency: " + concurrency + " (expected: >= 0)");
    }
    this.concurrency = concurrency;
    this.wait = wait;
    // Fair: hellos are admitted in the order they arrived, none waits behind later ones.
    this.permits = concurrency == 0 ? null : new Semaphore(concurrency, true);
  }

  /** A turn: released once, whoever releases it (the stream reached its first page, or ended). */
  public static final class Ticket implements AutoCloseable {
    private static final Ticket FREE = new Ticket(null);
    private final Semaphore permits;
    private final AtomicBoolean released = new AtomicBoolean();

    private Ticket(Semaphore permits) {
      this.permits = permits;
    }

    /** Gives the turn to the next hello; later calls do nothing. */
    @Override
    public void close() {
      if (permits != null && released.compareAndSet(false, true)) {
        permits.release();
      }
    }
  }

  /**
   * Waits for a turn (at most the configured wait).
   *
   * @return the turn, or null if the wait ran out (answer {@link #busy()})
   */
  public Ticket admit() throws InterruptedException {
    if (permits == null) {
      return Ticket.FREE;
    }
    return permits.tryAcquire(wait.toNanos(), TimeUnit.NANOSECONDS) ? new Ticket(permits) : null;
  }

  /** How many hellos wait for their turn now. */
  public int waiting() {
    return permits == null ? 0 : permits.getQueueLength();
  }

  /** How many streams may be between hello and first page at once (0 = no bound). */
  public int concurrency() {
    return concurrency;
  }

  /** What a hello that waited too long is told: retryable, with a RetryInfo. */
  public com.google.rpc.Status busy() {
    return Errors.status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_SERVER_BUSY, "hello: waited "
        + wait.toMillis() + " ms for a turn (DELTASYNC_HELLO_WAIT_MILLIS) while the server admits a burst of new "
        + "streams, " + concurrency + " at a time (DELTASYNC_HELLO_CONCURRENCY); nothing was done: send the hello "
        + "again after a backoff").toBuilder()
        .addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
            .setSeconds(1)).build()))
        .build();
  }
}

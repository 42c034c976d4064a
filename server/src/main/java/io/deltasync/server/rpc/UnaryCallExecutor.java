package io.deltasync.server.rpc;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs unary calls (Push, Pull, conflicts, status, admin) on a few reused platform threads instead of a new virtual
 * thread per callback; streaming calls keep the server's virtual threads.
 *
 * <p>Why: a unary call is short and waits only on PostgreSQL. On a new virtual thread each callback pays for the
 * thread's first use of per-thread caches (Netty's buffer cache, the JDK's providers) and its carrier spins idle
 * while the call waits for the database; a reused platform thread waits in the kernel and keeps its caches
 * (docs/performance.md, "Seventh part"). The pool never queues: when all its threads are busy (a burst, calls
 * waiting on locks) a call's callbacks run on {@code fallback} (a new virtual thread each, as every call did
 * before), so the pool's size bounds nothing and can never hold a call behind another. Idle threads above the core
 * size end after a minute.
 */
public final class UnaryCallExecutor implements ServerCallExecutorSupplier {
  private final ThreadPoolExecutor pool;
  private final Executor fallback;
  private final AtomicLong fellBack = new AtomicLong();

  /**
   * @param threads the most platform threads (DELTASYNC_UNARY_THREADS), at least 1
   * @param fallback where a unary call runs when all of them are busy, and every streaming call
   */
  public UnaryCallExecutor(int threads, Executor fallback) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads: " + threads + " (expected: >= 1)");
    }
    this.fallback = fallback;
    this.pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
        Thread.ofPlatform().daemon().name("deltasync-unary-", 0).factory());
    pool.allowCoreThreadTimeOut(true);
  }

  @Override
  public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
    if (call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY) {
      return null;  // the server's executor: streams may wait for a long time
    }
    return this::execute;
  }

  /**
   * Runs {@code task} on a free platform thread, else on the fallback. gRPC hands a call's callbacks to this one at a
   * time, in order (its SerializingExecutor), so a call whose callbacks land on both keeps their order.
   */
  private void execute(Runnable task) {
    try {
      pool.execute(task);
    } catch (RejectedExecutionException busyOrShutDown) {
      fellBack.incrementAndGet();
      fallback.execute(task);
    }
  }

  /** Callbacks of unary calls run on the fallback since start because every platform thread was busy. */
  public long fellBack() {
    return fellBack.get();
  }

  /** Stops the threads (calls still running finish on them). */
  public void shutdown() {
    pool.shutdown();
  }
}

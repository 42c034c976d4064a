package io.deltasync.bench;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * CPU per call of the per-call pieces issue 11's sixth part changed, each old form against the new one, alternated
 * in one platform thread and measured in that thread's CPU time (as {@link ResultBuildBenchmark}). The server runs
 * every call on a new virtual thread, where some of the old costs are first uses on a thread and larger than here
 * (a virtual thread's CPU time cannot be read, and the process's is too coarse and too noisy for this): these are
 * lower bounds of what the changes save.
 *
 * <ul>
 *   <li>digest: {@code MessageDigest.getInstance("SHA-256")} per delta (before) against a clone of one made at start
 *       (after), hashing the same 120 bytes;
 *   <li>request id: {@code UUID.randomUUID()} (SecureRandom, before) against {@code ThreadLocalRandom} (after);
 *   <li>push meters: the push timer built with its histogram settings and looked up, and one status counter looked up
 *       by name and tags per delta, per push (before), against both looked up once (after); one push of 50 deltas.
 * </ul>
 *
 * <pre>java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" io.deltasync.bench.PerCallCostBenchmark</pre>
 */
public final class PerCallCostBenchmark {
  private static final int N = 200_000;
  private static final Duration[] BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10),
      Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
      Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
      Duration.ofSeconds(10), Duration.ofSeconds(30)};
  private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
  private static final byte[] BYTES = new byte[120];
  private static final MessageDigest PROTOTYPE = sha256();
  private static final MeterRegistry REGISTRY = new SimpleMeterRegistry();
  private static final Map<String, Timer> TIMERS = new ConcurrentHashMap<>();
  private static final Map<String, Counter> COUNTERS = new ConcurrentHashMap<>();
  private static volatile Object sink;

  private PerCallCostBenchmark() {}

  public static void main(String[] args) {
    Runnable[] work = {
        () -> sink = sha256().digest(BYTES),
        () -> sink = cloned().digest(BYTES),
        () -> sink = UUID.randomUUID().toString(),
        () -> sink = newRequestId(),
        PerCallCostBenchmark::metersBefore,
        PerCallCostBenchmark::metersAfter};
    System.out.println("ns of CPU per call (this thread), " + N + " calls per cell; meters: one push of 50 deltas");
    System.out.println("round  digest:getInstance  digest:clone  id:randomUUID  id:TLR  meters:before  meters:after");
    for (int round = 0; round < 8; round++) {
      long[] ns = new long[work.length];
      for (int w = 0; w < work.length; w++) {
        ns[w] = perCall(work[w]);
      }
      System.out.printf("%5d  %18d  %12d  %13d  %6d  %13d  %12d%n", round, ns[0], ns[1], ns[2], ns[3], ns[4], ns[5]);
    }
  }

  private static long perCall(Runnable work) {
    long before = CPU.getCurrentThreadCpuTime();
    for (int i = 0; i < N; i++) {
      work.run();
    }
    return (CPU.getCurrentThreadCpuTime() - before) / N;
  }

  private static void metersBefore() {
    Timer.builder("bench.push.duration").serviceLevelObjectives(BUCKETS).tag("transport", "unary").register(REGISTRY)
        .record(1, TimeUnit.MILLISECONDS);
    for (int i = 0; i < 50; i++) {
      REGISTRY.counter("bench.deltas", "status", "DELTA_STATUS_APPLIED".substring("DELTA_STATUS_".length())
          .toLowerCase()).increment();
    }
  }

  private static void metersAfter() {
    TIMERS.computeIfAbsent("unary", t -> Timer.builder("bench.push.duration").serviceLevelObjectives(BUCKETS)
        .tag("transport", t).register(REGISTRY)).record(1, TimeUnit.MILLISECONDS);
    for (int i = 0; i < 50; i++) {
      COUNTERS.computeIfAbsent("APPLIED", s -> REGISTRY.counter("bench.deltas", "status", s.toLowerCase()))
          .increment();
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static MessageDigest cloned() {
    try {
      return (MessageDigest) PROTOTYPE.clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String newRequestId() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    return new UUID((random.nextLong() & ~0xF000L) | 0x4000L,
        (random.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L).toString();
  }
}

package io.deltasync.bench.scale;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.HdrHistogram.Histogram;

/**
 * One fan-out round: S subscribers, each a Sync stream on its own connection (as devices are), all opened at once and
 * subscribed to one scope; then one writer commits {@code rate} changes a second (one create per Push, sent on
 * schedule whatever the previous Push's latency) for {@code seconds}. Latency is from the moment the writer sends
 * the Push (so it includes the commit) to receipt at each subscriber.
 */
final class FanOut {
  /**
   * What one round measured.
   *
   * @param connectMillis from opening the first stream until every stream was live
   * @param connectFailures streams that did not go live within two minutes (or failed)
   * @param clientCpuMillis CPU of the load-client JVM during the writes (subscribers and writer)
   * @param liveMessages live messages with changes the subscribers received (fewer than {@code delivered} when the
   *     server put several changes in one message)
   */
  record Result(int subscribers, int changes, double connectMillis, int connectFailures, double p50, double p99,
      double max, double deliveriesPerSecond, long delivered, long missing, long duplicates, int failedPushes,
      double serverCpuMillis, double clientCpuMillis, double seconds, long liveMessages) {}

  /**
   * Where each round writes its trace (null: none; {@code --fan-out-trace}): {@code <scope>-trace.csv}, one line per
   * change: when the writer sent it (wall clock, ms) and its worst latency over the subscribers, to line a stall up
   * with the server's GC log or JFR recording.
   */
  static volatile java.nio.file.Path traceDirectory;

  private FanOut() {}

  static Result run(Target target, int subscribers, int seconds, int rate, String scope, Runnable duringWrites)
      throws Exception {
    int changes = rate * seconds;
    AtomicLongArray sentAt = new AtomicLongArray(changes);
    List<ManagedChannel> channels = new ArrayList<>();
    List<Subscriber> streams = new ArrayList<>();
    long openStart = System.nanoTime();
    for (int i = 0; i < subscribers; i++) {
      ManagedChannel channel = target.subscriberChannel();
      channels.add(channel);
      streams.add(new Subscriber(channel, scope + "-sub-" + i, "", scope, sentAt, true));
    }
    int connectFailures = 0;
    long connectDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    List<Subscriber> live = new ArrayList<>();
    for (Subscriber s : streams) {
      try {
        s.live.get(Math.max(1, connectDeadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        live.add(s);
      } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
        connectFailures++;
      }
    }
    double connectMillis = (System.nanoTime() - openStart) / 1e6;

    AtomicLongArray worst = new AtomicLongArray(changes);
    live.forEach(s -> s.worstMicros = worst);
    ManagedChannel writerChannel = target.channel();
    ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
    ExecutorService pushes = Executors.newVirtualThreadPerTaskExecutor();
    AtomicInteger next = new AtomicInteger();
    AtomicInteger failedPushes = new AtomicInteger();
    List<CompletableFuture<Void>> sent = java.util.Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<Void> allScheduled = new CompletableFuture<>();
    double serverCpu0 = target.server().cpuMillis();
    double clientCpu0 = clientCpuMillis();
    long firstSend = System.nanoTime();
    long firstSendWallMillis = System.currentTimeMillis();
    ticks.scheduleAtFixedRate(() -> {
      int seq = next.getAndIncrement();
      if (seq >= changes) {
        allScheduled.complete(null);
        return;
      }
      sent.add(CompletableFuture.runAsync(() -> {
        sentAt.set(seq, System.nanoTime());
        try {
          List<DeltaResult> results = SyncServiceGrpc.newBlockingStub(writerChannel)
              .withDeadlineAfter(60, TimeUnit.SECONDS)
              .push(PushRequest.newBuilder().setClientId(scope + "-writer").addDeltas(create(scope, seq)).build())
              .getResultsList();
          if (results.size() != 1 || results.getFirst().getStatus() != DeltaStatus.DELTA_STATUS_APPLIED) {
            failedPushes.incrementAndGet();
          }
        } catch (RuntimeException e) {
          failedPushes.incrementAndGet();
        }
      }, pushes));
    }, 0, 1_000_000_000L / rate, TimeUnit.NANOSECONDS);
    if (duringWrites != null) {
      duringWrites.run();
    }
    allScheduled.get(seconds * 10L + 60, TimeUnit.SECONDS);
    ticks.shutdownNow();
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
    // A change is missing only if it never arrives: on a saturated machine the first round's latency reached tens
    // of seconds, so the wait is long (an open stream that fell behind catches up from the log on its own).
    long deliverDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    for (Subscriber s : live) {
      while (System.nanoTime() < deliverDeadline && s.liveChanges.get() < changes && !s.ended.isDone()) {
        Thread.sleep(5);
      }
    }
    double serverCpu = target.server().cpuMillis() - serverCpu0;
    double clientCpu = clientCpuMillis() - clientCpu0;

    Histogram all = new Histogram(60_000_000L, 3);
    long delivered = 0;
    long duplicates = 0;
    long liveMessages = 0;
    long lastReceipt = firstSend;
    for (Subscriber s : live) {
      synchronized (s) {
        all.add(s.latencyMicros);
        delivered += s.seen.cardinality();
        duplicates += s.duplicates;
        liveMessages += s.liveMessages.get();
        lastReceipt = Math.max(lastReceipt, s.lastReceiptNanos);
      }
    }
    long missing = (long) live.size() * changes - delivered + (long) connectFailures * changes;
    if (traceDirectory != null) {
      StringBuilder csv = new StringBuilder("seq,sent_wall_ms,worst_latency_ms\n");
      for (int seq = 0; seq < changes; seq++) {
        csv.append(seq).append(',').append(firstSendWallMillis + (sentAt.get(seq) - firstSend) / 1_000_000)
            .append(',').append(worst.get(seq) / 1000.0).append('\n');
      }
      java.nio.file.Files.createDirectories(traceDirectory);
      java.nio.file.Files.writeString(traceDirectory.resolve(scope + "-trace.csv"), csv);
    }
    double elapsed = (lastReceipt - firstSend) / 1e9;
    streams.forEach(Subscriber::cancel);
    pushes.shutdown();
    channels.forEach(ManagedChannel::shutdownNow);
    writerChannel.shutdownNow();
    return new Result(subscribers, changes, connectMillis, connectFailures,
        all.getValueAtPercentile(50) / 1000.0, all.getValueAtPercentile(99) / 1000.0, all.getMaxValue() / 1000.0,
        delivered / elapsed, delivered, missing, duplicates, failedPushes.get(), serverCpu, clientCpu, elapsed,
        liveMessages);
  }

  static Delta create(String scope, int seq) {
    return Delta.newBuilder().setDeltaId(scope + "-" + seq).setEntityType("note").setEntityId(Integer.toString(seq))
        .setScope(scope).setOperation(Operation.OPERATION_CREATE).setData(Struct.newBuilder()
            .putFields("title", Value.newBuilder().setStringValue("change " + seq).build())
            .putFields("body", Value.newBuilder().setStringValue("a small benchmark document").build()))
        .build();
  }

  static double clientCpuMillis() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e6;
  }
}

package io.deltasync.bench.scale;

import io.deltasync.server.database.EmbeddedDatabase;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scale benchmark (issue 15): one command that starts PostgreSQL (embedded, or uses an external URL), a deltasync
 * server in its own JVM on loopback, and runs the load from this JVM, so client and server CPU are reported apart.
 * Every figure is measured beside its baseline in the same run, on the same database:
 *
 * <ol>
 *   <li>fan-out latency at each S (first round after start, then steady), deliveries/s, missing deliveries;
 *   <li>reconnect storm: S streams opened at once (time to all LIVE, failures), and N more beside live traffic;
 *   <li>catch-up of N changes on the stream, and through Pull at its default page, vs a plain JDBC read of the same
 *       change-log rows;
 *   <li>initial sync with pages sized by bytes vs pages of 50 rows (a second server with the old sizing), and of a
 *       large scope with the client's heap sampled, vs a plain JDBC read of the same rows;
 *   <li>server heap per idle stream (after a full GC), and a stalled consumer beside readers that keep receiving;
 *   <li>write cost: deltas/s through unary Push vs plain JDBC writing the same rows, by batch size.
 * </ol>
 *
 * <p>Writes results.json, results.md and plots.png (XChart) into the output directory. Options: {@code --help}.
 */
public final class ScaleBenchmark {
  private final ScaleOptions o;
  private final Report report = new Report();
  private final Seeds seeds;
  private final Path work;
  private ServerProcess server;
  private Target target;

  private ScaleBenchmark(ScaleOptions o, Seeds seeds, Path work) {
    this.o = o;
    this.seeds = seeds;
    this.work = work;
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    ScaleOptions o;
    try {
      o = ScaleOptions.parse(args);
    } catch (ScaleOptions.HelpRequested help) {
      System.out.println(ScaleOptions.USAGE);
      return;
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    run(o);
  }

  /** Runs everything and writes the results; returns the report (the smoke test reads it). */
  static Report run(ScaleOptions o) throws Exception {
    Path work = Files.createTempDirectory("deltasync-scale-bench-");
    try {
      if (o.databaseUrl().isPresent()) {
        return new ScaleBenchmark(o, new Seeds(o.databaseUrl().get(), o.databaseUser(), o.databasePassword()), work)
            .runAll();
      }
      try (EmbeddedDatabase postgres = EmbeddedDatabase.start(work.resolve("postgres"), 0)) {
        return new ScaleBenchmark(o, new Seeds(postgres.jdbcUrl(), postgres.user(), postgres.password()), work)
            .runAll();
      }
    } finally {
      deleteRecursively(work);
    }
  }

  private Report runAll() throws Exception {
    long start = System.nanoTime();
    report.machine.put("cores", Runtime.getRuntime().availableProcessors());
    report.machine.put("JDK", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    report.machine.put("OS", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    report.machine.put("started (UTC)", Instant.now().toString());
    report.machine.put("uptime at start", uptime());
    report.machine.put("database", o.databaseUrl().isPresent() ? "external" : "embedded (zonky), fsync on");
    report.machine.put("server JVM heap", o.serverHeap());
    report.machine.put("size", o.smoke() ? "smoke" : "full");
    // Which load-client harness the storm ran on (it changed in the seventh pass: docs/performance.md).
    report.machine.put("storm streams' event loops", o.stormSharedEventLoops()
        ? "shared with the live subscribers (--storm-shared-event-loops)"
        : "their own (" + Math.max(1, Runtime.getRuntime().availableProcessors()) + " NIO threads in the load client)");
    log("results into %s", o.out().toAbsolutePath());
    Path jfr = o.jfr() ? o.out().resolve("server.jfr") : null;
    if (jfr != null) {
      Files.createDirectories(o.out());
    }
    FanOut.traceDirectory = o.fanOutTrace() ? o.out() : null;
    server = ServerProcess.start("server", seeds.url(), seeds.user(), seeds.password(), work, o.serverEnv(),
        o.serverHeap(), jfr, o.serverJvmOptions());
    target = new Target(server, o.clientCallbackPool());
    report.machine.put("PostgreSQL", seeds.postgresVersion());
    try {
      if (o.runs("fan-out")) {
        fanOut();
      }
      if (o.runs("storm")) {
        stormBesideLiveTraffic();
      }
      if (o.runs("stalled")) {
        stalledConsumer();
      }
      if (o.runs("memory")) {
        idleStreams();
      }
      if (o.runs("catch-up")) {
        catchUpAndInitialSyncBeforeAfter();
      }
      if (o.runs("initial")) {
        initialSync();
      }
      if (o.runs("write")) {
        writeCost();
      }
    } finally {
      server.close();
    }
    if (jfr != null) {
      hotMethods(jfr, o.out().resolve("server-hot-methods.txt"));
    }
    report.machine.put("uptime at end", uptime());
    report.details.put("total seconds", (System.nanoTime() - start) / 1e9);
    report.write(o.out());
    System.out.println(report.markdown());
    log("done in %.0f s: %s", (System.nanoTime() - start) / 1e9, o.out().toAbsolutePath());
    return report;
  }

  // ---- 1. fan-out, and the storm of opening each round's streams at once ---------------------------------------

  private void fanOut() throws Exception {
    int first = o.subscribers().getFirst();
    List<FanOut.Result> rounds = new ArrayList<>();
    log("fan-out: first round after start, S=%d", first);
    FanOut.Result firstRound = FanOut.run(target, first, o.fanOutSeconds(), o.rate(), "fanout-first", null);
    record("first round", firstRound);
    for (int s : o.subscribers()) {
      log("fan-out: S=%d, %d changes/s for %d s", s, o.rate(), o.fanOutSeconds());
      FanOut.Result r;
      try {
        r = FanOut.run(target, s, o.fanOutSeconds(), o.rate(), "fanout-" + s, null);
      } catch (Exception | OutOfMemoryError e) {
        log("fan-out at S=%d did not complete: %s", s, e);
        report.details.put("fan-out S=" + s, "did not complete: " + e);
        continue;
      }
      rounds.add(r);
      record("steady", r);
      report.fanOutLatency.put(s, new double[] {r.p50(), r.p99(), r.max()});
      if (s == first) {
        report.add("fan-out", "p99, first round after start vs steady, S=" + s, firstRound.p99(), "ms", r.p99(),
            "steady round", "no worse than steady", firstRound.p99() <= r.p99() * 1.1);
      }
    }
  }

  private void record(String round, FanOut.Result r) {
    String s = "S=" + r.subscribers() + " (" + round + ")";
    boolean target1000 = r.subscribers() >= 1000 && round.equals("steady");
    report.add("fan-out", "p50 " + s, r.p50(), "ms");
    report.add("fan-out", "p99 " + s, r.p99(), "ms", Double.NaN, "", target1000 ? "<= 100 ms at 1,000" : "",
        target1000 ? r.p99() <= 100 : null);
    report.add("fan-out", "max " + s, r.max(), "ms");
    report.add("fan-out", "deliveries/s " + s, r.deliveriesPerSecond(), "/s");
    report.add("fan-out", "missing deliveries " + s, r.missing(), "", Double.NaN, "", "0", r.missing() == 0);
    report.add("fan-out", "server CPU per 1,000 deliveries " + s, r.serverCpuMillis() / r.delivered() * 1000, "ms");
    report.add("fan-out", "client CPU per 1,000 deliveries " + s, r.clientCpuMillis() / r.delivered() * 1000, "ms");
    report.add("fan-out", "changes per live message " + s, (double) r.delivered() / Math.max(1, r.liveMessages()),
        "");
    report.add("reconnect storm", "S=" + r.subscribers() + " streams opened at once (" + round
        + "): time until all LIVE", r.connectMillis() / 1000, "s");
    report.add("reconnect storm", "S=" + r.subscribers() + " (" + round + "): streams failed", r.connectFailures(), "",
        Double.NaN, "", "0", r.connectFailures() == 0);
    report.details.put("fan-out " + s, r);
  }

  // ---- 2. reconnect storm beside live traffic ---------------------------------------------------------------

  private void stormBesideLiveTraffic() throws Exception {
    log("reconnect storm: %d streams at once beside %d live subscribers", o.storm(), o.stormSubscribers());
    double[] storm = new double[2];
    List<ManagedChannel> channels = new ArrayList<>();
    List<Subscriber> streams = new ArrayList<>();
    // The storm's connections on event loops of their own (unless --storm-shared-event-loops): in the field the
    // reconnecting devices are not the connected ones, and sharing the load client's loops measured the client.
    EventLoopGroup stormLoops = o.stormSharedEventLoops() ? null
        : new NioEventLoopGroup(Math.max(1, Runtime.getRuntime().availableProcessors()));
    FanOut.Result live = FanOut.run(target, o.stormSubscribers(), o.fanOutSeconds(), o.rate(), "storm-live", () -> {
      long t0 = System.nanoTime();
      for (int i = 0; i < o.storm(); i++) {
        ManagedChannel channel = stormLoops == null ? target.channel() : target.channel(stormLoops);
        channels.add(channel);
        streams.add(new Subscriber(channel, "storm-" + i, "", "storm-empty", null, true));
      }
      int failed = 0;
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
      for (Subscriber s : streams) {
        try {
          s.live.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (Exception e) {
          failed++;
        }
      }
      storm[0] = (System.nanoTime() - t0) / 1e9;
      storm[1] = failed;
    });
    streams.forEach(Subscriber::cancel);
    channels.forEach(ManagedChannel::shutdownNow);
    for (ManagedChannel channel : channels) {
      channel.awaitTermination(10, TimeUnit.SECONDS);
    }
    if (stormLoops != null) {
      stormLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    report.add("reconnect storm", o.storm() + " streams opened at once beside live traffic: time until all LIVE",
        storm[0], "s", Double.NaN, "", "5,000 within 30 s", o.storm() >= 5000 ? storm[0] <= 30 : null);
    report.add("reconnect storm", o.storm() + " streams at once: failed", storm[1], "", Double.NaN, "", "0",
        storm[1] == 0);
    double[] steady = report.fanOutLatency.get(o.stormSubscribers());
    report.add("reconnect storm", "p99 of " + o.stormSubscribers() + " live subscribers during the storm",
        live.p99(), "ms", steady == null ? Double.NaN : steady[1], steady == null ? "" : "steady round at that S",
        "as without the storm (p99 as in fan-out)", steady == null ? null : live.p99() <= steady[1] * 1.5);
    report.add("reconnect storm", "missing deliveries to live subscribers during the storm", live.missing(), "",
        Double.NaN, "", "0", live.missing() == 0);
    report.details.put("storm live traffic", live);
  }

  // ---- 3. stalled consumer and memory per idle stream ---------------------------------------------------------

  private void stalledConsumer() throws Exception {
    log("stalled consumer: %d changes of 4 KiB beside 10 readers", o.stalledChanges());
    String scope = "stalled";
    ManagedChannel stalledChannel = target.channel();
    Subscriber stalled = new Subscriber(stalledChannel, "stalled-0", "", scope, null, false);
    List<ManagedChannel> channels = new ArrayList<>();
    List<Subscriber> readers = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ManagedChannel c = target.channel();
      channels.add(c);
      readers.add(new Subscriber(c, "reader-" + i, "", scope, null, true));
    }
    for (Subscriber r : readers) {
      r.live.get(2, TimeUnit.MINUTES);
    }
    long before = server.heapAfterGc();
    ManagedChannel writer = target.channel();
    String body = "x".repeat(4096);
    int batch = 100;
    for (int from = 0; from < o.stalledChanges(); from += batch) {
      PushRequest.Builder push = PushRequest.newBuilder().setClientId("stalled-writer");
      for (int i = from; i < Math.min(o.stalledChanges(), from + batch); i++) {
        push.addDeltas(FanOut.create(scope, i).toBuilder().setData(com.google.protobuf.Struct.newBuilder()
            .putFields("body", com.google.protobuf.Value.newBuilder().setStringValue(body).build())));
      }
      expectApplied(SyncServiceGrpc.newBlockingStub(writer).withDeadlineAfter(60, TimeUnit.SECONDS)
          .push(push.build()).getResultsList());
    }
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    long received = 0;
    for (Subscriber r : readers) {
      while (r.liveChanges.get() < o.stalledChanges() && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      received += r.liveChanges.get();
    }
    long after = server.heapAfterGc();
    report.add("stalled consumer", "server heap growth with one stalled consumer, " + o.stalledChanges()
        + " changes of 4 KiB written (" + (o.stalledChanges() * 4L / 1024) + " MiB)", (after - before) / 1048576.0,
        "MiB", Double.NaN, "", "flat (bounded, not the written volume)",
        (after - before) < o.stalledChanges() * 4096L / 2);
    report.add("stalled consumer", "changes the 10 other readers missed", 10L * o.stalledChanges() - received, "",
        Double.NaN, "", "0", received == 10L * o.stalledChanges());
    report.details.put("stalled stream still open", !stalled.ended.isDone());
    stalled.cancel();
    readers.forEach(Subscriber::cancel);
    channels.forEach(ManagedChannel::shutdownNow);
    stalledChannel.shutdownNow();
    writer.shutdownNow();
  }

  private void idleStreams() throws Exception {
    int perConnection = 100;  // DELTASYNC_MAX_CALLS_PER_CONNECTION's default
    log("memory per idle stream: %d streams, %d per connection", o.idleStreams(), perConnection);
    long before = server.heapAfterGc();
    List<ManagedChannel> channels = new ArrayList<>();
    List<Subscriber> streams = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int i = 0; i < o.idleStreams(); i++) {
      if (i % perConnection == 0) {
        channels.add(target.channel());
      }
      streams.add(new Subscriber(channels.getLast(), "idle-" + i, "", "idle", null, true));
    }
    int failed = 0;
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
    for (Subscriber s : streams) {
      try {
        s.live.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        failed++;
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    long after = server.heapAfterGc();
    int open = o.idleStreams() - failed;
    report.add("memory", "server heap per idle stream (" + open + " streams, " + perConnection
        + " per connection, after full GC)", (after - before) / 1024.0 / Math.max(1, open), "KiB", Double.NaN, "",
        "<= 50 KiB", (after - before) / 1024.0 / Math.max(1, open) <= 50);
    report.add("memory", o.idleStreams() + " idle streams: time until all LIVE", seconds, "s");
    report.add("memory", o.idleStreams() + " idle streams: failed", failed, "", Double.NaN, "", "0", failed == 0);
    streams.forEach(Subscriber::cancel);
    channels.forEach(ManagedChannel::shutdownNow);
  }

  // ---- 4. catch-up, and initial sync before/after byte-sized pages ----------------------------------------------

  private void catchUpAndInitialSyncBeforeAfter() throws Exception {
    String scope = "catchup";
    ManagedChannel channel = target.channel();
    try {
      String cursor = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
          .getStatus(GetStatusRequest.getDefaultInstance()).getServerCursor();
      log("catch-up: seeding %d changes", o.catchUpChanges());
      seeds.entities(scope, o.catchUpChanges());

      double stream = 0;
      double first = 0;
      for (int round = 1; round <= o.catchUpRounds(); round++) {
        // Each round reconnects from the same cursor: the first is the first catch-up after start, the last the
        // steady figure (the earlier ones have let the JIT compile the catch-up path).
        log("catch-up: stream (round %d of %d)", round, o.catchUpRounds());
        double serverCpu0 = target.server().cpuMillis();
        double[] jitGc0 = target.server().jitAndGcCpuMillis();
        double clientCpu0 = FanOut.clientCpuMillis();
        stream = timedStream(channel, cursor, scope, o.catchUpChanges(), false);
        if (round == 1) {
          first = stream;
        }
        report.details.put("catch-up changes/s, round " + round, stream);
        double[] jitGc = target.server().jitAndGcCpuMillis();
        double perThousand = 1000.0 / o.catchUpChanges();
        report.details.put("server CPU per 1,000 catch-up changes, round " + round,
            (target.server().cpuMillis() - serverCpu0) * perThousand);
        report.details.put("of which JIT compiler threads, round " + round, (jitGc[0] - jitGc0[0]) * perThousand);
        report.details.put("of which GC threads, round " + round, (jitGc[1] - jitGc0[1]) * perThousand);
        if (round == o.catchUpRounds()) {
          // CPU per change: comparable between runs on a shared machine, where rates are not.
          report.add("catch-up", "server CPU per 1,000 catch-up changes on the stream",
              (target.server().cpuMillis() - serverCpu0) * 1000 / o.catchUpChanges(), "ms");
          // The JIT's share: a round of 100,000 changes lasts about a second, and C2 still compiles the catch-up
          // path during the first rounds (docs/performance.md, "Seventh pass: catch-up").
          report.add("catch-up", "of which the server's JIT compiler threads", (jitGc[0] - jitGc0[0]) * perThousand,
              "ms");
          report.add("catch-up", "of which the server's GC threads", (jitGc[1] - jitGc0[1]) * perThousand, "ms");
          report.add("catch-up", "load client CPU per 1,000 catch-up changes on the stream",
              (FanOut.clientCpuMillis() - clientCpu0) * 1000 / o.catchUpChanges(), "ms");
        }
      }
      log("catch-up: Pull at its default page");
      long t0 = System.nanoTime();
      long pulled = 0;
      String at = cursor;
      PullResponse page;
      do {
        page = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
            .pull(PullRequest.newBuilder().setCursor(at).addScopes(scope).build());
        pulled += page.getChangesCount();
        at = page.getNextCursor();
      } while (page.getHasMore());
      double pull = pulled / ((System.nanoTime() - t0) / 1e9);
      double jdbc = 0;
      for (int round = 1; round <= o.catchUpRounds(); round++) {
        // The best of as many reads as the stream had rounds.
        jdbc = Math.max(jdbc, jdbcRate(() -> seeds.readChangeLog(scope), o.catchUpChanges()));
      }
      if (o.catchUpRounds() > 1) {
        report.add("catch-up", "the first catch-up of " + o.catchUpChanges() + " changes after start (round 1 of "
            + o.catchUpRounds() + ")", first, "changes/s", jdbc, "plain JDBC read of the same change-log rows");
      }
      report.add("catch-up", "catch-up of " + o.catchUpChanges() + " changes on the Sync stream"
          + (o.catchUpRounds() > 1 ? " (the last of " + o.catchUpRounds() + " from the same cursor)" : ""),
          stream, "changes/s", jdbc, "plain JDBC read of the same change-log rows", ">= 0.5× the raw read",
          stream >= 0.5 * jdbc);
      report.add("catch-up", "the same through Pull at its default page (SYNC_BATCH_SIZE 50)", pull, "changes/s",
          jdbc, "plain JDBC read of the same change-log rows");

      log("initial sync of %d rows: byte-sized pages, then pages of 50 rows (a second server)",
          o.initialRowsBefore());
      String small = "before-after";
      seeds.entities(small, o.initialRowsBefore());
      double after = timedStream(channel, "", small, o.initialRowsBefore(), true);
      double before;
      try (ServerProcess old = ServerProcess.start("server-50-row-pages", seeds.url(), seeds.user(),
          seeds.password(), work, Map.of("DELTASYNC_STREAM_QUEUE_CHANGES", "5"), o.serverHeap(), null, List.of())) {
        // Initial-state pages hold up to 10 times the stream's buffer, and the first read SYNC_BATCH_SIZE (50)
        // rows at most: a buffer of 5 gives pages of 50 rows, as SYNC_BATCH_SIZE sized every page before.
        ManagedChannel oldChannel = new Target(old).channel();
        try {
          before = timedStream(oldChannel, "", small, o.initialRowsBefore(), true);
        } finally {
          oldChannel.shutdownNow();
        }
      }
      report.add("initial sync", "initial sync of " + o.initialRowsBefore() + " rows, pages sized by bytes (1 MiB)",
          after, "rows/s", before, "pages of 50 rows, as before (a server with DELTASYNC_STREAM_QUEUE_CHANGES=5)");
    } finally {
      channel.shutdownNow();
    }
  }

  private void initialSync() throws Exception {
    String scope = "initial";
    log("initial sync: seeding %d rows", o.initialRows());
    long s0 = System.nanoTime();
    seeds.entities(scope, o.initialRows());
    report.details.put("seconds to seed the initial-sync scope", (System.nanoTime() - s0) / 1e9);
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    System.gc();
    long heapBefore = memory.getHeapMemoryUsage().getUsed();
    AtomicLong peak = new AtomicLong(heapBefore);
    AtomicLong retainedPeak = new AtomicLong(retainedAfterGc());
    long retainedBefore = retainedPeak.get();
    Thread sampler = Thread.ofPlatform().daemon().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        peak.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
        retainedPeak.accumulateAndGet(retainedAfterGc(), Math::max);
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    ManagedChannel channel = target.channel();
    double stream;
    try {
      log("initial sync: stream");
      double serverCpu0 = target.server().cpuMillis();
      double[] jitGc0 = target.server().jitAndGcCpuMillis();
      stream = timedStream(channel, "", scope, o.initialRows(), true);
      double[] jitGc = target.server().jitAndGcCpuMillis();
      report.add("initial sync", "server CPU per 1,000 rows of the initial sync",
          (target.server().cpuMillis() - serverCpu0) * 1000 / o.initialRows(), "ms");
      report.add("initial sync", "of which the server's JIT compiler threads",
          (jitGc[0] - jitGc0[0]) * 1000 / o.initialRows(), "ms");
      report.add("initial sync", "of which the server's GC threads", (jitGc[1] - jitGc0[1]) * 1000 / o.initialRows(),
          "ms");
    } finally {
      sampler.interrupt();
      channel.shutdownNow();
    }
    double jdbc = jdbcRate(() -> seeds.readEntities(scope), o.initialRows());
    report.add("initial sync", "initial sync of " + o.initialRows() + " rows on the Sync stream", stream, "rows/s",
        jdbc, "plain JDBC read of the same rows", ">= 0.5× the raw read", stream >= 0.5 * jdbc);
    double growth = (peak.get() - heapBefore) / 1048576.0;
    report.add("initial sync", "load client's peak heap use growth during the download, garbage included",
        growth, "MiB");
    double retained = (retainedPeak.get() - retainedBefore) / 1048576.0;
    report.add("initial sync", "load client's heap growth after GC during the download (what it holds)", retained,
        "MiB", Double.NaN, "", "flat (streamed, not held): under 1% of the rows' bytes",
        retained < o.initialRows() * 500.0 / 100 / 1048576.0 + 1);
    report.details.put("client heap before the download (MiB)", heapBefore / 1048576.0);
  }

  /** Heap in use right after the last collection of each heap pool: what survives GC, not garbage. */
  private static long retainedAfterGc() {
    long used = 0;
    for (java.lang.management.MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getCollectionUsage() != null) {
        used += pool.getCollectionUsage().getUsed();
      }
    }
    return used;
  }

  /** Opens a stream and times it until live; changes/s of the initial state (or catch-up) it received. */
  private double timedStream(ManagedChannel channel, String cursor, String scope, int expected, boolean initial)
      throws Exception {
    long t0 = System.nanoTime();
    Subscriber s = new Subscriber(channel, "timed-" + scope + "-" + t0, cursor, scope, null, true);
    s.live.get(10, TimeUnit.MINUTES);
    double seconds = (System.nanoTime() - t0) / 1e9;
    long got = initial ? s.stateChanges.get() : s.catchUpChanges.get();
    s.cancel();
    if (got != expected) {
      throw new IllegalStateException(scope + ": received " + got + " changes (expected: " + expected + ")");
    }
    return got / seconds;
  }

  private interface Read {
    long rows() throws Exception;
  }

  private static double jdbcRate(Read read, int expected) throws Exception {
    long t0 = System.nanoTime();
    long rows = read.rows();
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (rows != expected) {
      throw new IllegalStateException("JDBC read " + rows + " rows (expected: " + expected + ")");
    }
    return rows / seconds;
  }

  // ---- 5. write cost ------------------------------------------------------------------------------------------

  private void writeCost() throws Exception {
    int c = o.writeClients();
    for (int batch : o.writeBatches()) {
      log("write cost: batches of %d, %d clients, %d deltas", batch, c, o.writeDeltas());
      // An untimed round of the same shape first (its own rows): at B=500 the timed round is one push per client,
      // and its first 500-row statement on each connection would otherwise be part of the figure.
      writeRate("warm-jdbc-" + batch, batch, this::jdbcWriter);
      writeRate("warm-push-" + batch, batch, this::pushWriter);
      double jdbc = writeRate("jdbc-" + batch, batch, this::jdbcWriter);
      double push = writeRate("push-" + batch, batch, this::pushWriter);
      report.writeThroughput.put(batch, new double[] {push, jdbc});
      report.add("write cost", "creates through unary Push, batches of " + batch + ", " + c + " clients", push,
          "deltas/s", jdbc, "plain JDBC, same rows, " + batch + " per transaction");
    }
  }

  private interface Writer {
    /** A worker that connects, waits at {@code start} (the clock starts when all are there), then writes. */
    Callable<Void> worker(String scope, int from, int to, int batch, CyclicBarrier start);
  }

  private double writeRate(String scope, int batch, Writer writer) throws Exception {
    int c = o.writeClients();
    ExecutorService threads = Executors.newFixedThreadPool(c);
    try {
      // Connections (a JDBC session: a PostgreSQL backend started; a gRPC channel: connected) are opened before the
      // clock starts, on both sides: at B=500 a timed round is one statement per client, and a new connection's
      // cost would otherwise be most of the baseline's time (a review finding).
      CyclicBarrier start = new CyclicBarrier(c + 1);
      List<Future<Void>> running = new ArrayList<>();
      for (int t = 0; t < c; t++) {
        running.add(threads.submit(writer.worker(scope, o.writeDeltas() * t / c, o.writeDeltas() * (t + 1) / c, batch,
            start)));
      }
      start.await(2, TimeUnit.MINUTES);
      long t0 = System.nanoTime();
      for (Future<Void> f : running) {
        f.get();
      }
      return o.writeDeltas() / ((System.nanoTime() - t0) / 1e9);
    } finally {
      threads.shutdownNow();
    }
  }

  private Callable<Void> pushWriter(String scope, int from, int to, int batch, CyclicBarrier start) {
    return () -> {
      ManagedChannel channel = target.channel();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (channel.getState(true) != ConnectivityState.READY && System.nanoTime() < deadline) {
          Thread.sleep(1);
        }
        start.await(2, TimeUnit.MINUTES);
        for (int i = from; i < to; i += batch) {
          List<Delta> deltas = new ArrayList<>();
          for (int j = i; j < Math.min(to, i + batch); j++) {
            deltas.add(FanOut.create(scope, j));
          }
          expectApplied(SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
              .push(PushRequest.newBuilder().setClientId(scope + "-" + from).addAllDeltas(deltas).build())
              .getResultsList());
        }
      } finally {
        channel.shutdownNow();
      }
      return null;
    };
  }

  private Callable<Void> jdbcWriter(String scope, int from, int to, int batch, CyclicBarrier start) {
    return () -> {
      try (Connection c = seeds.connect(); PreparedStatement insert = c.prepareStatement("""
          INSERT INTO entity (scope, entity_type, entity_id, data)
          SELECT ?, 'note', unnest(?::text[]), unnest(?::jsonb[])""")) {
        start.await(2, TimeUnit.MINUTES);
        for (int i = from; i < to; i += batch) {
          List<String> ids = new ArrayList<>();
          List<String> docs = new ArrayList<>();
          for (int j = i; j < Math.min(to, i + batch); j++) {
            ids.add(Integer.toString(j));
            docs.add("{\"title\": \"change " + j + "\", \"body\": \"a small benchmark document\"}");
          }
          insert.setString(1, scope);
          insert.setArray(2, c.createArrayOf("text", ids.toArray()));
          insert.setArray(3, c.createArrayOf("jsonb", docs.toArray()));
          insert.executeUpdate();
        }
      }
      return null;
    };
  }

  private static void expectApplied(List<DeltaResult> results) {
    for (DeltaResult r : results) {
      if (r.getStatus() != DeltaStatus.DELTA_STATUS_APPLIED) {
        throw new IllegalStateException("a delta was not applied: " + r);
      }
    }
  }

  /** JDK's own summary of where the server spent its CPU (jfr view hot-methods), beside the recording. */
  private static void hotMethods(Path jfr, Path out) {
    try {
      Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jfr").toString(), "view",
          "--width", "160", "hot-methods", jfr.toString()).redirectErrorStream(true).redirectOutput(out.toFile())
          .start();
      p.waitFor(5, TimeUnit.MINUTES);
    } catch (IOException | InterruptedException e) {
      log("jfr view failed: %s", e);
    }
  }

  // ---- plumbing -----------------------------------------------------------------------------------------------

  private static String uptime() {
    try {
      Process p = new ProcessBuilder("uptime").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      p.waitFor(10, TimeUnit.SECONDS);
      return out;
    } catch (IOException | InterruptedException e) {
      return "unknown";
    }
  }

  private static void log(String format, Object... args) {
    System.out.printf("[%s] %s%n", Instant.now().toString().substring(11, 19), String.format(format, args));
  }

  static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // best effort: a temporary directory
        }
      });
    } catch (IOException ignored) {
      // best effort
    }
  }

  /** For the report's Markdown: the figures by section. */
  static Map<String, List<Report.Figure>> bySection(Report report) {
    Map<String, List<Report.Figure>> sections = new LinkedHashMap<>();
    for (Report.Figure f : report.figures) {
      sections.computeIfAbsent(f.section(), k -> new ArrayList<>()).add(f);
    }
    return sections;
  }
}

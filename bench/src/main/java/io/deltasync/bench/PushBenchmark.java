package io.deltasync.bench;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncPushResults;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import javax.sql.DataSource;

/**
 * End-to-end load benchmark of one in-process deltasync server on its embedded PostgreSQL (loopback only). It reports
 * costs as ratios against a baseline measured in the same run, never as absolute bounds:
 *
 * <ul>
 *   <li>write: N entity rows written with plain JDBC single-row INSERTs in autocommit (the database work alone, with
 *       the same triggers) versus the same N rows as CREATE deltas through unary Push (and the Sync stream's push),
 *       from the same number of client threads; ratio = deltasync time per delta / baseline time per delta;
 *   <li>fan-out: S live Sync subscribers while one writer pushes M changes; time from the first push until the last
 *       subscriber has the last change, for each S; ratio = time(S max) / time(S min), about 1 when one change-log
 *       reader serves every stream.
 * </ul>
 *
 * <p>Not JMH: it measures a whole server (gRPC, virtual threads, HikariCP, PostgreSQL with fsync). Each
 * measurement is preceded by an untimed warm-up round and repeated (interleaved, so drift on a shared machine hits
 * baseline and deltasync alike); the table gives median, min and max. Options: {@code --help}.
 */
public final class PushBenchmark {
  private static final long TIMEOUT_SECONDS = 300;

  private PushBenchmark() {}

  /** What to run. */
  record Options(int deltas, int batch, int clients, List<Integer> subscribers, int changes, int repeats,
      int warmups, boolean streamPush, boolean burst) {

    static Options parse(String[] args) {
      int deltas = 5_000;
      int batch = 50;
      int clients = 4;
      List<Integer> subscribers = List.of(1, 50);
      int changes = 2_000;
      int repeats = 3;
      int warmups = 1;
      boolean streamPush = true;
      boolean burst = true;
      for (int i = 0; i < args.length; i++) {
        String arg = args[i];
        String name = arg;
        String value = null;
        int eq = arg.indexOf('=');
        if (eq > 0) {
          name = arg.substring(0, eq);
          value = arg.substring(eq + 1);
        }
        if (name.equals("--help") || name.equals("-h")) {
          usage();
          System.exit(0);
        }
        if (name.equals("--no-stream-push")) {
          streamPush = false;
          continue;
        }
        if (name.equals("--no-burst")) {
          burst = false;
          continue;
        }
        if (value == null) {
          if (i + 1 >= args.length) {
            throw new IllegalArgumentException(name + " needs a value (see --help)");
          }
          value = args[++i];
        }
        String option = name;
        switch (option) {
          case "--deltas", "-n" -> deltas = positive(name, value);
          case "--batch", "-b" -> batch = positive(name, value);
          case "--clients", "-c" -> clients = positive(name, value);
          case "--subscribers", "-s" -> subscribers = Stream.of(value.split(",")).map(String::trim)
              .map(s -> positive(option, s)).sorted().distinct().toList();
          case "--changes", "-m" -> changes = positive(name, value);
          case "--repeats", "-r" -> repeats = positive(name, value);
          case "--warmups", "-w" -> warmups = Integer.parseInt(value);
          default -> throw new IllegalArgumentException("unknown option " + name + " (see --help)");
        }
      }
      if (batch > 500) {
        throw new IllegalArgumentException("--batch " + batch + ": the server's default limit is 500 deltas per push");
      }
      return new Options(deltas, batch, clients, subscribers, changes, repeats, warmups, streamPush, burst);
    }

    private static int positive(String name, String value) {
      int parsed = Integer.parseInt(value);
      if (parsed < 1) {
        throw new IllegalArgumentException(name + " " + value + ": expected a positive number");
      }
      return parsed;
    }

    private static void usage() {
      System.out.println("""
          PushBenchmark: deltasync write and fan-out cost as ratios against a same-run baseline.
            --deltas, -n N        deltas (rows) per write measurement            (default 5000)
            --batch, -b B         deltas per push request                        (default 50)
            --clients, -c C       concurrent writer threads / connections        (default 4)
            --subscribers, -s L   comma-separated subscriber counts for fan-out  (default 1,50)
            --changes, -m M       changes pushed per fan-out measurement         (default 2000)
            --repeats, -r R       timed repetitions of each measurement          (default 3)
            --warmups, -w W       untimed warm-up rounds before them             (default 1)
            --no-stream-push      skip the Sync-stream push measurement
            --no-burst            skip the fan-out of M changes committed in one plain-SQL transaction""");
    }
  }

  public static void main(String[] args) throws Exception {
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    if (System.getenv("DELTASYNC_LOG_LEVEL") == null && System.getProperty("DELTASYNC_LOG_LEVEL") == null) {
      System.setProperty("DELTASYNC_LOG_LEVEL", "WARN");  // before the first logger: the server's INFO is noise here
    }
    Path dataDir = Files.createTempDirectory("deltasync-push-bench-");
    DeltaSyncServer[] running = new DeltaSyncServer[1];
    Thread cleanup = new Thread(() -> {
      if (running[0] != null) {
        running[0].close();
      }
      deleteRecursively(dataDir);
    }, "push-bench-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      ServerConfig config = ServerConfig.from(Map.of("DELTASYNC_DATA_DIR", dataDir.toString())).withPort(0);
      System.out.printf("Starting embedded PostgreSQL and deltasync on 127.0.0.1 (data in %s)...%n", dataDir);
      try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
        running[0] = server;
        new PushBenchmark.Run(server, options).run();
        running[0] = null;
      }
    } finally {
      deleteRecursively(dataDir);
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException ignored) {
        // already shutting down: the hook runs anyway
      }
    }
  }

  /** One benchmark run against one server. */
  static final class Run {
    private final DeltaSyncServer server;
    private final Options o;
    private final DataSource dataSource;
    private int scopeCounter;

    Run(DeltaSyncServer server, Options options) {
      this.server = server;
      this.o = options;
      this.dataSource = server.database().dataSource();
    }

    void run() throws Exception {
      System.out.printf("Server on 127.0.0.1:%d; %d cores available to the JVM; Java %s%n", server.port(),
          Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
      System.out.printf("Write: N=%d deltas, B=%d per push, C=%d client threads. Fan-out: S in %s, M=%d changes "
          + "(one writer, B=%d). %d warm-up + %d timed rounds each.%n%n", o.deltas(), o.batch(), o.clients(),
          o.subscribers(), o.changes(), o.batch(), o.warmups(), o.repeats());

      List<Double> baseline = new ArrayList<>();
      List<Double> unary = new ArrayList<>();
      List<Double> stream = new ArrayList<>();
      for (int round = -o.warmups(); round < o.repeats(); round++) {
        boolean timed = round >= 0;
        String tag = timed ? "round " + (round + 1) : "warm-up";
        double b = baselineInserts(nextScope("base"));
        double u = unaryPush(nextScope("unary"));
        double s = o.streamPush() ? streamPush(nextScope("stream")) : Double.NaN;
        System.out.printf("  write %-8s baseline %6.0f ms, unary Push %6.0f ms, stream push %s%n", tag, b, u,
            o.streamPush() ? String.format("%6.0f ms", s) : "-");
        if (timed) {
          baseline.add(b);
          unary.add(u);
          stream.add(s);
        }
      }

      Map<Integer, List<FanOut>> fanOut = new TreeMap<>();
      Map<Integer, List<FanOut>> burst = new TreeMap<>();
      int largest = o.subscribers().get(o.subscribers().size() - 1);
      for (int round = -o.warmups(); round < o.repeats(); round++) {
        boolean timed = round >= 0;
        for (int s : timed ? o.subscribers() : List.of(largest)) {
          for (boolean isBurst : o.burst() ? List.of(false, true) : List.of(false)) {
            FanOut result = fanOut(s, nextScope((isBurst ? "burst" : "fan") + s), isBurst);
            System.out.printf("  fan-out %-5s %-8s S=%-3d writer %6.0f ms, last delivery %6.0f ms after the first "
                + "write%n", isBurst ? "burst" : "push", timed ? "round " + (round + 1) : "warm-up", s,
                result.writerMillis(), result.lastDeliveryMillis());
            if (timed) {
              (isBurst ? burst : fanOut).computeIfAbsent(s, k -> new ArrayList<>()).add(result);
            }
          }
        }
      }
      report(baseline, unary, stream, fanOut, burst);
    }

    private String nextScope(String what) {
      return "bench-" + what + "-" + (++scopeCounter);
    }

    // ---- write: baseline -------------------------------------------------------------------------------------

    /** N single-row INSERTs in autocommit from C threads, one pooled connection each; milliseconds. */
    private double baselineInserts(String scope) throws Exception {
      List<Callable<Void>> workers = new ArrayList<>();
      CountDownLatch ready = new CountDownLatch(o.clients());
      CountDownLatch start = new CountDownLatch(1);
      for (int t = 0; t < o.clients(); t++) {
        int[] range = slice(o.deltas(), o.clients(), t);
        workers.add(() -> {
          try (Connection connection = dataSource.getConnection();
              PreparedStatement insert = connection.prepareStatement(
                  "INSERT INTO entity (scope, entity_type, entity_id, data) VALUES (?, ?, ?, ?::jsonb)")) {
            connection.setAutoCommit(true);
            String[] json = new String[range[1] - range[0]];
            for (int i = range[0]; i < range[1]; i++) {
              json[i - range[0]] = documentJson(i);
            }
            ready.countDown();
            start.await();
            for (int i = range[0]; i < range[1]; i++) {
              insert.setString(1, scope);
              insert.setString(2, "note");
              insert.setString(3, "e" + i);
              insert.setString(4, json[i - range[0]]);
              insert.executeUpdate();
            }
          }
          return null;
        });
      }
      double millis = timed(workers, ready, start);
      expectRows(scope, o.deltas());
      return millis;
    }

    // ---- write: unary Push -----------------------------------------------------------------------------------

    /** N CREATE deltas through unary Push, B per request, from C threads with a channel each; milliseconds. */
    private double unaryPush(String scope) throws Exception {
      List<ManagedChannel> channels = new ArrayList<>();
      try {
        List<Callable<Void>> workers = new ArrayList<>();
        CountDownLatch ready = new CountDownLatch(o.clients());
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < o.clients(); t++) {
          ManagedChannel channel = channel();
          channels.add(channel);
          String clientId = scope + "-c" + t;
          List<PushRequest> requests = new ArrayList<>();
          for (List<Delta> batch : batches(scope, slice(o.deltas(), o.clients(), t))) {
            requests.add(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(batch).build());
          }
          workers.add(() -> {
            SyncServiceGrpc.SyncServiceBlockingStub stub = SyncServiceGrpc.newBlockingStub(channel);
            stub.getStatus(GetStatusRequest.getDefaultInstance());  // connect before the clock starts
            ready.countDown();
            start.await();
            for (PushRequest request : requests) {
              PushResponse response = stub.withDeadlineAfter(TIMEOUT_SECONDS, TimeUnit.SECONDS).push(request);
              expectApplied(request.getDeltasCount(), response.getResultsList());
            }
            return null;
          });
        }
        double millis = timed(workers, ready, start);
        expectRows(scope, o.deltas());
        return millis;
      } finally {
        channels.forEach(PushBenchmark::shutdown);
      }
    }

    // ---- write: push on the Sync stream ----------------------------------------------------------------------

    /**
     * N CREATE deltas as SyncPush messages, B per push, one push in flight per stream, C streams (a channel each)
     * subscribed to nothing that is written; milliseconds.
     */
    private double streamPush(String scope) throws Exception {
      List<ManagedChannel> channels = new ArrayList<>();
      List<StreamObserver<SyncRequest>> streams = new ArrayList<>();
      try {
        List<Callable<Void>> workers = new ArrayList<>();
        CountDownLatch ready = new CountDownLatch(o.clients());
        CountDownLatch start = new CountDownLatch(1);
        for (int t = 0; t < o.clients(); t++) {
          ManagedChannel channel = channel();
          channels.add(channel);
          String clientId = scope + "-c" + t;
          List<SyncRequest> pushes = new ArrayList<>();
          int n = 0;
          for (List<Delta> batch : batches(scope, slice(o.deltas(), o.clients(), t))) {
            pushes.add(SyncRequest.newBuilder().setPush(SyncPush.newBuilder().setBatchId("b" + (n++))
                .addAllDeltas(batch)).build());
          }
          BlockingQueue<SyncResponse> responses = new LinkedBlockingQueue<>();
          CompletableFuture<Void> live = new CompletableFuture<>();
          StreamObserver<SyncRequest> requests = SyncServiceGrpc.newStub(channel).sync(new StreamObserver<>() {
            @Override
            public void onNext(SyncResponse value) {
              if (value.hasChanges() && value.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
                live.complete(null);
              } else if (value.hasPushResults() || value.hasError()) {
                responses.add(value);
              }
            }

            @Override
            public void onError(Throwable t) {
              live.completeExceptionally(t);
              responses.add(SyncResponse.getDefaultInstance());
            }

            @Override
            public void onCompleted() {}
          });
          streams.add(requests);
          // Subscribed to an entity type nobody writes: this measures the push path, not delivery.
          requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId)
              .addSubscriptions(Subscription.newBuilder().setEntityType("unwatched").addScopes(scope + "-none")))
              .build());
          workers.add(() -> {
            live.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            ready.countDown();
            start.await();
            for (SyncRequest push : pushes) {
              synchronized (requests) {
                requests.onNext(push);
              }
              SyncResponse answer = responses.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
              if (answer == null || !answer.hasPushResults()
                  || !answer.getPushResults().getBatchId().equals(push.getPush().getBatchId())) {
                throw new IllegalStateException("unexpected answer to push " + push.getPush().getBatchId() + ": "
                    + answer);
              }
              SyncPushResults results = answer.getPushResults();
              expectApplied(push.getPush().getDeltasCount(), results.getResultsList());
            }
            return null;
          });
        }
        double millis = timed(workers, ready, start);
        expectRows(scope, o.deltas());
        return millis;
      } finally {
        for (StreamObserver<SyncRequest> stream : streams) {
          synchronized (stream) {
            stream.onCompleted();
          }
        }
        channels.forEach(PushBenchmark::shutdown);
      }
    }

    // ---- fan-out ---------------------------------------------------------------------------------------------

    /** The result of one fan-out measurement, in milliseconds from the first push. */
    record FanOut(double writerMillis, double lastDeliveryMillis) {}

    /**
     * S subscribers (a channel and a Sync stream each, hello with an empty cursor, subscribed to the scope) live;
     * one writer pushes M CREATEs with unary Push, B per request; waits until every subscriber has every change.
     */
    private FanOut fanOut(int subscriberCount, String scope, boolean burst) throws Exception {
      List<ManagedChannel> channels = new ArrayList<>();
      List<StreamObserver<SyncRequest>> streams = new ArrayList<>();
      CountDownLatch allDelivered = new CountDownLatch(subscriberCount);
      AtomicLong lastDelivery = new AtomicLong(Long.MIN_VALUE);
      List<CompletableFuture<Void>> lives = new ArrayList<>();
      List<CompletableFuture<Void>> failures = new ArrayList<>();
      ManagedChannel writerChannel = channel();
      channels.add(writerChannel);
      try {
        for (int i = 0; i < subscriberCount; i++) {
          ManagedChannel channel = channel();
          channels.add(channel);
          CompletableFuture<Void> live = new CompletableFuture<>();
          CompletableFuture<Void> failed = new CompletableFuture<>();
          lives.add(live);
          failures.add(failed);
          StreamObserver<SyncRequest> requests = SyncServiceGrpc.newStub(channel).sync(new StreamObserver<>() {
            // gRPC calls one observer serially: no locking needed for this subscriber's own state.
            private final Set<String> seen = new HashSet<>();
            private boolean done;

            @Override
            public void onNext(SyncResponse value) {
              if (!value.hasChanges()) {
                return;
              }
              if (value.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
                live.complete(null);
              }
              for (Change change : value.getChanges().getChangesList()) {
                if (change.getEntity().getScope().equals(scope)) {
                  seen.add(change.getEntity().getEntityId());
                }
              }
              if (!done && seen.size() >= o.changes()) {
                done = true;
                lastDelivery.accumulateAndGet(System.nanoTime(), Math::max);
                allDelivered.countDown();
              }
            }

            @Override
            public void onError(Throwable t) {
              live.completeExceptionally(t);
              failed.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {}
          });
          streams.add(requests);
          requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(scope + "-sub" + i)
              .addSubscriptions(Subscription.newBuilder().addScopes(scope))).build());
        }
        CompletableFuture.allOf(lives.toArray(CompletableFuture[]::new)).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

        long start;
        long writerDone;
        if (burst) {
          // All M changes in one plain-SQL transaction: the writer costs almost nothing, delivery is what is timed.
          try (Connection connection = dataSource.getConnection();
              PreparedStatement insert = connection.prepareStatement("INSERT INTO entity (scope, entity_type, "
                  + "entity_id, data) SELECT ?, 'note', 'e' || g, jsonb_build_object('title', 'note ' || g, "
                  + "'body', 'a small benchmark document', 'n', g, 'done', false) FROM generate_series(0, ? - 1) g")) {
            connection.setAutoCommit(false);
            insert.setString(1, scope);
            insert.setInt(2, o.changes());
            start = System.nanoTime();
            insert.executeUpdate();
            connection.commit();
            writerDone = System.nanoTime();
            connection.setAutoCommit(true);
          }
        } else {
          List<PushRequest> requests = new ArrayList<>();
          for (List<Delta> batch : batches(scope, new int[] {0, o.changes()})) {
            requests.add(PushRequest.newBuilder().setClientId(scope + "-writer").addAllDeltas(batch).build());
          }
          SyncServiceGrpc.SyncServiceBlockingStub writer = SyncServiceGrpc.newBlockingStub(writerChannel);
          writer.getStatus(GetStatusRequest.getDefaultInstance());
          start = System.nanoTime();
          for (PushRequest request : requests) {
            PushResponse response = writer.withDeadlineAfter(TIMEOUT_SECONDS, TimeUnit.SECONDS).push(request);
            expectApplied(request.getDeltasCount(), response.getResultsList());
          }
          writerDone = System.nanoTime();
        }
        if (!allDelivered.await(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
          throw new IllegalStateException((allDelivered.getCount()) + " of " + subscriberCount
              + " subscribers did not receive all " + o.changes() + " changes in " + TIMEOUT_SECONDS + " s");
        }
        for (CompletableFuture<Void> failed : failures) {
          if (failed.isCompletedExceptionally()) {
            failed.join();
          }
        }
        return new FanOut((writerDone - start) / 1e6, (lastDelivery.get() - start) / 1e6);
      } finally {
        for (StreamObserver<SyncRequest> stream : streams) {
          stream.onCompleted();
        }
        channels.forEach(PushBenchmark::shutdown);
      }
    }

    private ManagedChannel channel() {
      // Loopback, plaintext; a channel (one HTTP/2 connection) per client, as separate devices would have.
      return Grpc.newChannelBuilderForAddress("127.0.0.1", server.port(), InsecureChannelCredentials.create())
          .maxInboundMessageSize(8 * 1024 * 1024)
          .build();
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /** Runs the workers on platform threads; the clock runs from when all are ready until the last ends. */
    private static double timed(List<Callable<Void>> workers, CountDownLatch ready, CountDownLatch start)
        throws Exception {
      ExecutorService threads = Executors.newFixedThreadPool(workers.size());
      try {
        List<Future<Void>> futures = new ArrayList<>();
        for (Callable<Void> worker : workers) {
          futures.add(threads.submit(worker));
        }
        while (!ready.await(100, TimeUnit.MILLISECONDS)) {
          for (Future<Void> future : futures) {
            if (future.isDone()) {
              future.get();  // a worker failed while getting ready: surface it
            }
          }
        }
        long begin = System.nanoTime();
        start.countDown();
        for (Future<Void> future : futures) {
          future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        return (System.nanoTime() - begin) / 1e6;
      } finally {
        threads.shutdownNow();
      }
    }

    private List<List<Delta>> batches(String scope, int[] range) {
      List<List<Delta>> batches = new ArrayList<>();
      List<Delta> current = new ArrayList<>();
      for (int i = range[0]; i < range[1]; i++) {
        current.add(Delta.newBuilder().setDeltaId(scope + "-d" + i).setEntityType("note").setEntityId("e" + i)
            .setScope(scope).setOperation(Operation.OPERATION_CREATE).setData(document(i)).build());
        if (current.size() == o.batch()) {
          batches.add(current);
          current = new ArrayList<>();
        }
      }
      if (!current.isEmpty()) {
        batches.add(current);
      }
      return batches;
    }

    private void expectRows(String scope, int expected) throws SQLException {
      try (Connection connection = dataSource.getConnection();
          PreparedStatement count = connection.prepareStatement(
              "SELECT (SELECT count(*) FROM entity WHERE scope = ?), (SELECT count(*) FROM change_log WHERE scope = ?)")) {
        count.setString(1, scope);
        count.setString(2, scope);
        try (ResultSet rows = count.executeQuery()) {
          rows.next();
          if (rows.getLong(1) != expected || rows.getLong(2) != expected) {
            throw new IllegalStateException(scope + ": expected " + expected + " entities and changes, found "
                + rows.getLong(1) + " and " + rows.getLong(2));
          }
        }
      }
    }

    // ---- report ----------------------------------------------------------------------------------------------

    private void report(List<Double> baseline, List<Double> unary, List<Double> stream,
        Map<Integer, List<FanOut>> fanOut, Map<Integer, List<FanOut>> burst) {
      int n = o.deltas();
      System.out.println();
      System.out.printf("Write cost: N=%d CREATEs of a small JSON document, C=%d threads, B=%d deltas per push "
          + "(median [min-max] of %d)%n", n, o.clients(), o.batch(), o.repeats());
      String row = "%-34s %26s %22s %s%n";
      System.out.printf(row, "path", "deltas/s", "ms per run", "ratio time/delta vs baseline");
      System.out.printf(row, "baseline: JDBC INSERT, autocommit", rate(baseline, n), millis(baseline), "1 (reference)");
      System.out.printf(row, "deltasync: unary Push", rate(unary, n), millis(unary), ratios(unary, baseline));
      if (o.streamPush()) {
        System.out.printf(row, "deltasync: Sync stream push", rate(stream, n), millis(stream),
            ratios(stream, baseline));
      }

      System.out.println();
      System.out.printf("Fan-out (push): one writer pushes M=%d changes with unary Push, B=%d per request; time from "
          + "the first push until the last subscriber has the last change%n", o.changes(), o.batch());
      fanOutTable(fanOut);
      if (!burst.isEmpty()) {
        System.out.println();
        System.out.printf("Fan-out (burst): M=%d changes committed in one plain-SQL transaction; time from the start "
            + "of that transaction until the last subscriber has the last change (delivery alone)%n", o.changes());
        fanOutTable(burst);
      }
    }

    private void fanOutTable(Map<Integer, List<FanOut>> results) {
      String fanRow = "%-12s %26s %26s %22s %20s %20s%n";
      System.out.printf(fanRow, "subscribers", "changes/s per subscriber", "deliveries/s (all subs)",
          "end-to-end ms", "writer ms", "lag after writer ms");
      for (Map.Entry<Integer, List<FanOut>> entry : results.entrySet()) {
        List<Double> total = entry.getValue().stream().map(FanOut::lastDeliveryMillis).toList();
        List<Double> writer = entry.getValue().stream().map(FanOut::writerMillis).toList();
        List<Double> lag = entry.getValue().stream().map(f -> f.lastDeliveryMillis() - f.writerMillis()).toList();
        System.out.printf(fanRow, "S=" + entry.getKey(), rate(total, o.changes()),
            rate(total, (long) o.changes() * entry.getKey()), millis(total), millis(writer), millis(lag));
      }
      Map.Entry<Integer, List<FanOut>> first = results.entrySet().iterator().next();
      List<Double> reference = first.getValue().stream().map(FanOut::lastDeliveryMillis).toList();
      List<Double> writerReference = first.getValue().stream().map(FanOut::writerMillis).toList();
      for (Map.Entry<Integer, List<FanOut>> entry : results.entrySet()) {
        if (entry.getKey().equals(first.getKey())) {
          continue;
        }
        List<Double> total = entry.getValue().stream().map(FanOut::lastDeliveryMillis).toList();
        List<Double> writer = entry.getValue().stream().map(FanOut::writerMillis).toList();
        System.out.printf("ratio end-to-end time S=%d / S=%d: %s   (writer time: %s)%n", entry.getKey(),
            first.getKey(), ratios(total, reference), ratios(writer, writerReference));
      }
    }

    private static String rate(List<Double> millis, long count) {
      List<Double> rates = millis.stream().map(ms -> count / (ms / 1000.0)).toList();
      return String.format("%,.0f [%,.0f-%,.0f]", median(rates), min(rates), max(rates));
    }

    private static String millis(List<Double> millis) {
      return String.format("%,.0f [%,.0f-%,.0f]", median(millis), min(millis), max(millis));
    }

    /** Ratios of paired rounds (round i of one against round i of the other): median [min-max]. */
    private static String ratios(List<Double> measured, List<Double> reference) {
      List<Double> ratios = new ArrayList<>();
      for (int i = 0; i < measured.size(); i++) {
        ratios.add(measured.get(i) / reference.get(i));
      }
      return String.format("%.2f [%.2f-%.2f]", median(ratios), min(ratios), max(ratios));
    }
  }

  // ---- shared helpers -----------------------------------------------------------------------------------------

  /** [from, to) of part t of n items split into parts. */
  static int[] slice(int n, int parts, int t) {
    return new int[] {(int) ((long) n * t / parts), (int) ((long) n * (t + 1) / parts)};
  }

  /** The small document of entity i, as a Struct (deltas). */
  static Struct document(int i) {
    return Struct.newBuilder()
        .putFields("title", Value.newBuilder().setStringValue("note " + i).build())
        .putFields("body", Value.newBuilder().setStringValue("a small benchmark document").build())
        .putFields("n", Value.newBuilder().setNumberValue(i).build())
        .putFields("done", Value.newBuilder().setBoolValue(false).build())
        .build();
  }

  /** The same document as JSON (baseline). */
  static String documentJson(int i) {
    return "{\"title\": \"note " + i + "\", \"body\": \"a small benchmark document\", \"n\": " + i
        + ", \"done\": false}";
  }

  static void expectApplied(int sent, List<DeltaResult> results) {
    if (results.size() != sent) {
      throw new IllegalStateException("sent " + sent + " deltas, got " + results.size() + " results");
    }
    for (DeltaResult result : results) {
      if (result.getStatus() != DeltaStatus.DELTA_STATUS_APPLIED || result.getReplayed()) {
        throw new IllegalStateException("delta not freshly applied: " + result);
      }
    }
  }

  static void shutdown(ManagedChannel channel) {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static double median(List<Double> values) {
    List<Double> sorted = values.stream().sorted().toList();
    int size = sorted.size();
    return size % 2 == 1 ? sorted.get(size / 2) : (sorted.get(size / 2 - 1) + sorted.get(size / 2)) / 2;
  }

  static double min(List<Double> values) {
    return values.stream().min(Comparator.naturalOrder()).orElse(Double.NaN);
  }

  static double max(List<Double> values) {
    return values.stream().max(Comparator.naturalOrder()).orElse(Double.NaN);
  }

  static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> {
        try {
          Files.deleteIfExists(path);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      System.err.println("Could not delete " + root + ": " + e);
    }
  }
}

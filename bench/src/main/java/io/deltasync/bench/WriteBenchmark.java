package io.deltasync.bench;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.database.Database;
import io.deltasync.server.database.EmbeddedDatabase;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Write throughput of deltasync against plain JDBC doing the same rows, in one run on one durable embedded
 * PostgreSQL (fsync on):
 *
 * <ul>
 *   <li>each of C clients creates E entities in batches of B, then updates every one of them by compare-and-set
 *       (base version from the create's result), through unary Push and through Sync-stream pushes;
 *   <li>baseline: C JDBC threads doing the same rows as one multi-row {@code INSERT} and one
 *       {@code UPDATE … FROM (VALUES …) WHERE row_version = …} per transaction, through the same triggers;
 *   <li>plain-SQL writers (C threads, 50-row INSERT transactions) with no deltasync server on the database, and with
 *       one running that has a live subscriber: what the server costs other services writing the same tables.
 * </ul>
 *
 * <p>Rounds are interleaved (baseline, unary, stream; baseline, …) after an untimed warm-up; the table gives the
 * median of the rounds and ratios are taken round by round. A plain main, not JMH; options: {@code --help}.
 */
public final class WriteBenchmark {
  private static final long TIMEOUT_SECONDS = 600;

  private WriteBenchmark() {}

  /** What to run. */
  record Options(int clients, int batch, List<Integer> clientSweep, List<Integer> batchSweep, int total,
      int repeats, int warmups, boolean stream, int plainSqlRows, boolean clientProcess, List<String> setupSql) {

    static Options parse(String[] args) {
      int clients = 8;
      int batch = 50;
      List<Integer> clientSweep = List.of();
      List<Integer> batchSweep = List.of();
      int total = 8_000;
      int repeats = 3;
      int warmups = 1;
      boolean stream = true;
      int plainSqlRows = 40_000;
      boolean clientProcess = false;
      List<String> setupSql = new ArrayList<>();
      for (int i = 0; i < args.length; i++) {
        String name = args[i];
        switch (name) {
          case "--help", "-h" -> {
            System.out.println("""
                WriteBenchmark: deltasync write throughput as a ratio to plain JDBC on the same database, same run.
                  --clients, -c C          concurrent clients (threads, channels, client ids)        (default 8)
                  --batch, -b B            deltas per push / rows per JDBC transaction               (default 50)
                  --entities, -n N         entities per measurement, split over the clients; each
                                           is created, then updated: 2N deltas                       (default 8000)
                  --sweep-batches L        also run these batch sizes at C clients, e.g. 1,10,50,200,500
                  --sweep-clients L        also run these client counts at batch B, e.g. 1,2,8,32
                  --repeats, -r R          timed rounds                                              (default 3)
                  --warmups, -w W          untimed warm-up rounds                                    (default 1)
                  --no-stream              skip the Sync-stream path
                  --plain-sql-rows P       rows per plain-SQL writer measurement, 0 to skip          (default 40000)
                  --client-process         unary Push clients in a JVM of their own (WriteClient), so that
                                           "JVM cpu" is the server's alone and "client cpu" the clients';
                                           the JDBC baseline stays in this process
                  --setup-sql SQL          run SQL on the migrated database before the server starts, for
                                           an A/B of a database setting (repeatable), e.g.
                                           'ALTER FUNCTION deltasync_entity_log_writes() SET enable_nestloop = off'""");
            System.exit(0);
          }
          case "--no-stream" -> stream = false;
          case "--client-process" -> clientProcess = true;
          default -> {
            if (i + 1 >= args.length) {
              throw new IllegalArgumentException(name + " needs a value (see --help)");
            }
            String value = args[++i];
            switch (name) {
              case "--clients", "-c" -> clients = positive(name, value);
              case "--batch", "-b" -> batch = positive(name, value);
              case "--entities", "-n" -> total = positive(name, value);
              case "--sweep-batches" -> batchSweep = list(name, value);
              case "--sweep-clients" -> clientSweep = list(name, value);
              case "--repeats", "-r" -> repeats = positive(name, value);
              case "--warmups", "-w" -> warmups = Integer.parseInt(value);
              case "--plain-sql-rows" -> plainSqlRows = Integer.parseInt(value);
              case "--setup-sql" -> setupSql.add(value);
              default -> throw new IllegalArgumentException("unknown option " + name + " (see --help)");
            }
          }
        }
      }
      if (clientProcess && stream) {
        throw new IllegalArgumentException("--client-process runs unary Push only: add --no-stream");
      }
      return new Options(clients, batch, clientSweep, batchSweep, total, repeats, warmups, stream, plainSqlRows,
          clientProcess, List.copyOf(setupSql));
    }

    private static List<Integer> list(String name, String value) {
      return Stream.of(value.split(",")).map(String::trim).map(s -> positive(name, s)).toList();
    }

    private static int positive(String name, String value) {
      int parsed = Integer.parseInt(value);
      if (parsed < 1) {
        throw new IllegalArgumentException(name + " " + value + " (expected: a positive number)");
      }
      return parsed;
    }
  }

  /** One workload shape. */
  record Shape(int clients, int batch, int perClient) {
    int deltas() {
      return 2 * clients * perClient;
    }
  }

  /** One timed measurement: wall time of the whole workload and every batch's round trip. */
  record Measured(double millis, List<Long> batchNanos, double[] cpuMillis) {
    Measured(double millis, List<Long> batchNanos) {
      this(millis, batchNanos, lastCpuMillis);
    }
  }

  /** Meters this run's JVM and PostgreSQL; set once, before the first measurement. */
  static volatile CpuMeter cpuMeter;
  /** CPU milliseconds {JVM, PostgreSQL} of the last {@link #timed} workload (measurements run one at a time). */
  static volatile double[] lastCpuMillis = {Double.NaN, Double.NaN};

  public static void main(String[] args) throws Exception {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    if (System.getProperty("DELTASYNC_LOG_LEVEL") == null && System.getenv("DELTASYNC_LOG_LEVEL") == null) {
      System.setProperty("DELTASYNC_LOG_LEVEL", "WARN");
    }
    Path dataDir = Files.createTempDirectory("deltasync-write-bench-");
    try (EmbeddedDatabase postgres = EmbeddedDatabase.start(dataDir, 0);
        Database database = Database.open(new Database.Settings(Optional.of(postgres.jdbcUrl()), postgres.user(),
            postgres.password(), dataDir, 40, java.time.Duration.ofSeconds(30)))) {
      Map<String, String> env = new HashMap<>();
      env.put("DELTASYNC_DATABASE_URL", postgres.jdbcUrl());
      env.put("DELTASYNC_DATABASE_USER", postgres.user());
      env.put("DELTASYNC_DATABASE_PASSWORD", postgres.password());
      env.put("DELTASYNC_DATA_DIR", dataDir.toString());
      env.put("DELTASYNC_PORT", "0");
      env.put("DELTASYNC_DB_POOL_SIZE", "16");
      // Other DELTASYNC_* settings of the environment reach the server (e.g. DELTASYNC_UNARY_THREADS=0 for an A/B).
      System.getenv().forEach((name, value) -> {
        if (name.startsWith("DELTASYNC_") && !name.equals("DELTASYNC_LOG_LEVEL")) {
          env.putIfAbsent(name, value);
        }
      });
      ServerConfig config = ServerConfig.from(env);
      for (String sql : o.setupSql()) {
        try (Connection connection = database.dataSource().getConnection();
            Statement statement = connection.createStatement()) {
          statement.execute(sql);
          System.out.println("set-up SQL: " + sql);
        }
      }
      cpuMeter = new CpuMeter(dataDir);
      System.out.printf("%d cores available to the JVM; Java %s; embedded PostgreSQL (fsync on) in %s%n",
          Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), dataDir);
      new Run(o, database, config).run();
    } finally {
      PushBenchmark.deleteRecursively(dataDir);
    }
  }

  /** One benchmark run. */
  static final class Run {
    private final Options o;
    private final Database database;
    private final ServerConfig config;
    private int scopeCounter;

    Run(Options o, Database database, ServerConfig config) {
      this.o = o;
      this.database = database;
      this.config = config;
    }

    void run() throws Exception {
      Set<Shape> shapes = new LinkedHashSet<>();
      shapes.add(shape(o.clients(), o.batch()));
      for (int b : o.batchSweep()) {
        shapes.add(shape(o.clients(), b));
      }
      for (int c : o.clientSweep()) {
        shapes.add(shape(c, o.batch()));
      }
      Map<Shape, Map<String, List<Measured>>> results = new LinkedHashMap<>();
      try (DeltaSyncServer server = DeltaSyncServer.start(config);
          ClientProcess clientProcess = o.clientProcess() ? ClientProcess.start(server.port()) : null) {
        for (Shape shape : shapes) {
          Map<String, List<Measured>> byPath = new LinkedHashMap<>();
          for (int round = -o.warmups(); round < o.repeats(); round++) {
            Measured jdbc = jdbc(shape, nextScope("jdbc"));
            Measured unary = clientProcess != null ? clientProcess.push(shape, nextScope("unary"))
                : push(server, shape, nextScope("unary"), false);
            Measured stream = o.stream() ? push(server, shape, nextScope("stream"), true) : null;
            System.out.printf("  C=%-3d B=%-4d %-8s JDBC %7.0f ms, unary Push %7.0f ms, stream %s%n",
                shape.clients(), shape.batch(), round < 0 ? "warm-up" : "round " + (round + 1), jdbc.millis(),
                unary.millis(), stream == null ? "-" : String.format("%7.0f ms", stream.millis()));
            if (round >= 0) {
              byPath.computeIfAbsent("JDBC multi-row (baseline)", k -> new ArrayList<>()).add(jdbc);
              byPath.computeIfAbsent("deltasync unary Push", k -> new ArrayList<>()).add(unary);
              if (stream != null) {
                byPath.computeIfAbsent("deltasync Sync stream", k -> new ArrayList<>()).add(stream);
              }
            }
          }
          results.put(shape, byPath);
        }
      }
      List<double[]> plain = o.plainSqlRows() > 0 ? plainSqlWriters() : List.of();
      report(results, plain);
    }

    private Shape shape(int clients, int batch) {
      int perClient = Math.max(batch, (o.total() + clients - 1) / clients);
      return new Shape(clients, batch, perClient);
    }

    private String nextScope(String what) {
      return "wb-" + what + "-" + (++scopeCounter);
    }

    // ---- baseline: plain JDBC, same rows, same triggers --------------------------------------------------------

    private Measured jdbc(Shape shape, String scope) throws Exception {
      List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
      List<Callable<Void>> workers = new ArrayList<>();
      CountDownLatch ready = new CountDownLatch(shape.clients());
      CountDownLatch start = new CountDownLatch(1);
      for (int t = 0; t < shape.clients(); t++) {
        int first = t * shape.perClient();
        workers.add(() -> {
          try (Connection connection = database.dataSource().getConnection()) {
            connection.setAutoCommit(false);
            ready.countDown();
            start.await();
            for (int from = first; from < first + shape.perClient(); from += shape.batch()) {
              int n = Math.min(shape.batch(), first + shape.perClient() - from);
              StringBuilder sql = new StringBuilder(
                  "INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ");
              for (int i = 0; i < n; i++) {
                sql.append(i == 0 ? "" : ", ").append("(?, 'note', ?, ?::jsonb)");
              }
              long began = System.nanoTime();
              try (PreparedStatement insert = connection.prepareStatement(sql.toString())) {
                for (int i = 0; i < n; i++) {
                  insert.setString(3 * i + 1, scope);
                  insert.setString(3 * i + 2, "e" + (from + i));
                  insert.setString(3 * i + 3, PushBenchmark.documentJson(from + i));
                }
                expect(n, insert.executeUpdate());
              }
              connection.commit();
              latencies.add(System.nanoTime() - began);
            }
            for (int from = first; from < first + shape.perClient(); from += shape.batch()) {
              int n = Math.min(shape.batch(), first + shape.perClient() - from);
              StringBuilder sql = new StringBuilder("UPDATE entity e SET data = v.data::jsonb, "
                  + "row_version = e.row_version + 1 FROM (VALUES ");
              for (int i = 0; i < n; i++) {
                sql.append(i == 0 ? "" : ", ").append("(?, ?::bigint, ?)");
              }
              sql.append(") AS v(id, base, data) WHERE e.scope = ? AND e.entity_type = 'note' "
                  + "AND e.entity_id = v.id AND e.row_version = v.base");
              long began = System.nanoTime();
              try (PreparedStatement update = connection.prepareStatement(sql.toString())) {
                for (int i = 0; i < n; i++) {
                  update.setString(3 * i + 1, "e" + (from + i));
                  update.setLong(3 * i + 2, 1);
                  update.setString(3 * i + 3, updatedJson(from + i));
                }
                update.setString(3 * n + 1, scope);
                expect(n, update.executeUpdate());
              }
              connection.commit();
              latencies.add(System.nanoTime() - began);
            }
          }
          return null;
        });
      }
      double millis = timed(workers, ready, start);
      return new Measured(millis, List.copyOf(latencies));
    }

    private static void expect(int expected, int actual) {
      if (expected != actual) {
        throw new IllegalStateException("expected " + expected + " rows written, got " + actual);
      }
    }

    // ---- deltasync: unary Push or Sync stream --------------------------------------------------------------------

    /** Sends one batch and waits for its results. */
    interface Pusher extends AutoCloseable {
      List<DeltaResult> push(List<Delta> deltas) throws Exception;

      @Override
      void close();
    }

    private Measured push(DeltaSyncServer server, Shape shape, String scope, boolean stream) throws Exception {
      List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
      List<Callable<Void>> workers = new ArrayList<>();
      CountDownLatch ready = new CountDownLatch(shape.clients());
      CountDownLatch start = new CountDownLatch(1);
      for (int t = 0; t < shape.clients(); t++) {
        int first = t * shape.perClient();
        String clientId = scope + "-c" + t;
        workers.add(() -> {
          try (Pusher pusher = stream ? streamPusher(server, clientId, scope) : unaryPusher(server.port(), clientId)) {
            ready.countDown();
            start.await();
            createThenUpdate(pusher, clientId, scope, first, shape, latencies);
          }
          return null;
        });
      }
      double millis = timed(workers, ready, start);
      return new Measured(millis, List.copyOf(latencies));
    }

    /**
     * One client's workload: its entities created in batches, then each updated by compare-and-set with the version
     * the create answered; every batch's round trip into {@code latencies}. Shared with {@link WriteClient}.
     */
    static void createThenUpdate(Pusher pusher, String clientId, String scope, int first, Shape shape,
        List<Long> latencies) throws Exception {
      long[] versions = new long[shape.perClient()];
      for (int from = first; from < first + shape.perClient(); from += shape.batch()) {
        int n = Math.min(shape.batch(), first + shape.perClient() - from);
        List<Delta> batch = new ArrayList<>(n);
        for (int i = from; i < from + n; i++) {
          batch.add(Delta.newBuilder().setDeltaId(clientId + "-create-" + i).setScope(scope)
              .setEntityType("note").setEntityId("e" + i).setOperation(Operation.OPERATION_CREATE)
              .setData(PushBenchmark.document(i)).build());
        }
        long began = System.nanoTime();
        List<DeltaResult> results = pusher.push(batch);
        latencies.add(System.nanoTime() - began);
        PushBenchmark.expectApplied(n, results);
        for (int i = 0; i < n; i++) {
          versions[from - first + i] = results.get(i).getEntity().getRowVersion();
        }
      }
      for (int from = first; from < first + shape.perClient(); from += shape.batch()) {
        int n = Math.min(shape.batch(), first + shape.perClient() - from);
        List<Delta> batch = new ArrayList<>(n);
        for (int i = from; i < from + n; i++) {
          batch.add(Delta.newBuilder().setDeltaId(clientId + "-update-" + i).setScope(scope)
              .setEntityType("note").setEntityId("e" + i).setOperation(Operation.OPERATION_UPDATE)
              .setBaseRowVersion(versions[i - first]).setData(updated(i)).build());
        }
        long began = System.nanoTime();
        List<DeltaResult> results = pusher.push(batch);
        latencies.add(System.nanoTime() - began);
        PushBenchmark.expectApplied(n, results);
      }
    }

    static Pusher unaryPusher(int port, String clientId) {
      ManagedChannel channel = channel(port);
      SyncServiceGrpc.SyncServiceBlockingStub stub = SyncServiceGrpc.newBlockingStub(channel);
      stub.getStatus(GetStatusRequest.getDefaultInstance());  // connected before the clock starts
      return new Pusher() {
        @Override
        public List<DeltaResult> push(List<Delta> deltas) {
          return stub.withDeadlineAfter(TIMEOUT_SECONDS, TimeUnit.SECONDS)
              .push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build()).getResultsList();
        }

        @Override
        public void close() {
          PushBenchmark.shutdown(channel);
        }
      };
    }

    private static Pusher streamPusher(DeltaSyncServer server, String clientId, String scope) throws Exception {
      ManagedChannel channel = channel(server.port());
      BlockingQueue<SyncResponse> answers = new LinkedBlockingQueue<>();
      CompletableFuture<Void> live = new CompletableFuture<>();
      StreamObserver<SyncRequest> requests = SyncServiceGrpc.newStub(channel).sync(new StreamObserver<>() {
        @Override
        public void onNext(SyncResponse value) {
          if (value.hasChanges() && value.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
            live.complete(null);
          } else if (value.hasPushResults() || value.hasError()) {
            answers.add(value);
          }
        }

        @Override
        public void onError(Throwable t) {
          live.completeExceptionally(t);
          answers.add(SyncResponse.getDefaultInstance());
        }

        @Override
        public void onCompleted() {}
      });
      // Subscribed to what nobody writes: this measures the push path, not delivery.
      requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(clientId)
          .addSubscriptions(Subscription.newBuilder().setEntityType("unwatched").addScopes(scope + "-none")))
          .build());
      live.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      int[] batchIds = {0};
      return new Pusher() {
        @Override
        public List<DeltaResult> push(List<Delta> deltas) throws Exception {
          String batchId = "b" + (batchIds[0]++);
          requests.onNext(SyncRequest.newBuilder().setPush(SyncPush.newBuilder().setBatchId(batchId)
              .addAllDeltas(deltas)).build());
          SyncResponse answer = answers.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
          if (answer == null || !answer.hasPushResults()
              || !answer.getPushResults().getBatchId().equals(batchId)) {
            throw new IllegalStateException("unexpected answer to push " + batchId + ": " + answer);
          }
          return answer.getPushResults().getResultsList();
        }

        @Override
        public void close() {
          requests.onCompleted();
          PushBenchmark.shutdown(channel);
        }
      };
    }

    static ManagedChannel channel(int port) {
      return Grpc.newChannelBuilderForAddress("127.0.0.1", port, InsecureChannelCredentials.create())
          .maxInboundMessageSize(16 * 1024 * 1024).build();
    }

    // ---- plain-SQL writers with and without a server -------------------------------------------------------------

    /**
     * C threads commit 50-row INSERT transactions of plain SQL; each round runs them with no deltasync server on the
     * database, with a running server that no client listens to, and with a running server that has one live
     * subscriber receiving every row written. Returns {without, idle server, subscribed server} ms per timed round.
     */
    private List<double[]> plainSqlWriters() throws Exception {
      List<double[]> rounds = new ArrayList<>();
      for (int round = -o.warmups(); round < o.repeats(); round++) {
        double without = plainSql(nextScope("plain"));
        double idle;
        try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
          idle = plainSql(nextScope("plain"));
        }
        double with;
        try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
          String scope = nextScope("plain");
          ManagedChannel channel = channel(server.port());
          CompletableFuture<Void> live = new CompletableFuture<>();
          StreamObserver<SyncRequest> subscriber = SyncServiceGrpc.newStub(channel).sync(new StreamObserver<>() {
            @Override
            public void onNext(SyncResponse value) {
              if (value.hasChanges() && value.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE) {
                live.complete(null);
              }
            }

            @Override
            public void onError(Throwable t) {
              live.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {}
          });
          subscriber.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId(scope + "-sub")
              .addSubscriptions(Subscription.newBuilder().addScopes(scope))).build());
          live.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
          with = plainSql(scope);
          subscriber.onCompleted();
          PushBenchmark.shutdown(channel);
        }
        System.out.printf("  plain SQL %-8s without server %7.0f ms, idle server %7.0f ms, server with a live "
            + "subscriber %7.0f ms%n", round < 0 ? "warm-up" : "round " + (round + 1), without, idle, with);
        if (round >= 0) {
          rounds.add(new double[] {without, idle, with});
        }
      }
      return rounds;
    }

    private double plainSql(String scope) throws Exception {
      int clients = o.clients();
      int perClient = o.plainSqlRows() / clients;
      List<Callable<Void>> workers = new ArrayList<>();
      CountDownLatch ready = new CountDownLatch(clients);
      CountDownLatch start = new CountDownLatch(1);
      for (int t = 0; t < clients; t++) {
        int first = t * perClient;
        workers.add(() -> {
          try (Connection connection = database.dataSource().getConnection();
              PreparedStatement insert = connection.prepareStatement("INSERT INTO entity (scope, entity_type, "
                  + "entity_id, data) SELECT ?, 'note', 'e' || g, jsonb_build_object('title', 'note ' || g, "
                  + "'body', 'a small benchmark document', 'n', g, 'done', false) FROM generate_series(?, ?) g")) {
            connection.setAutoCommit(false);
            ready.countDown();
            start.await();
            for (int from = first; from < first + perClient; from += 50) {
              insert.setString(1, scope);
              insert.setInt(2, from);
              insert.setInt(3, Math.min(from + 50, first + perClient) - 1);
              insert.executeUpdate();
              connection.commit();
            }
          }
          return null;
        });
      }
      return timed(workers, ready, start);
    }

    // ---- report ----------------------------------------------------------------------------------------------------

    /**
     * Median CPU microseconds per delta (per row for the baseline) of one process: 0 this JVM, 1 PostgreSQL, 2 the
     * client process ({@code --client-process}; "-" where the clients ran in this JVM).
     */
    private static String cpuPerDelta(List<Measured> rounds, Shape shape, int process) {
      List<Double> perDelta = rounds.stream()
          .map(m -> m.cpuMillis().length > process ? m.cpuMillis()[process] * 1000 / shape.deltas() : Double.NaN)
          .filter(v -> !v.isNaN()).toList();
      return perDelta.isEmpty() ? "-" : String.format("%.0f", PushBenchmark.median(perDelta));
    }

    private void report(Map<Shape, Map<String, List<Measured>>> results, List<double[]> plain) {
      System.out.println();
      System.out.printf("Write throughput: each client creates its entities in batches of B, then updates each one by "
          + "compare-and-set (base version from the create's result); median of %d rounds, ratios per round%n",
          o.repeats());
      String row = "%-4s %-5s %-27s %10s %18s %10s %10s %12s %12s %14s%n";
      System.out.printf(row, "C", "B", "path", "deltas/s", "x JDBC [min-max]", "p50 ms", "p99 ms", "JVM cpu us",
          "PG cpu us", "client cpu us");
      for (Map.Entry<Shape, Map<String, List<Measured>>> entry : results.entrySet()) {
        Shape shape = entry.getKey();
        List<Measured> baseline = entry.getValue().values().iterator().next();
        for (Map.Entry<String, List<Measured>> path : entry.getValue().entrySet()) {
          List<Double> rates = path.getValue().stream().map(m -> shape.deltas() / (m.millis() / 1000)).toList();
          List<Double> ratios = new ArrayList<>();
          for (int i = 0; i < rates.size(); i++) {
            ratios.add(baseline.get(i).millis() / path.getValue().get(i).millis());
          }
          List<Long> all = path.getValue().stream().flatMap(m -> m.batchNanos().stream()).sorted().toList();
          System.out.printf(row, shape.clients(), shape.batch(), path.getKey(),
              String.format("%,.0f", PushBenchmark.median(rates)),
              String.format("%.2f [%.2f-%.2f]", PushBenchmark.median(ratios), PushBenchmark.min(ratios),
                  PushBenchmark.max(ratios)),
              String.format("%.1f", percentile(all, 0.50) / 1e6), String.format("%.1f", percentile(all, 0.99) / 1e6),
              cpuPerDelta(path.getValue(), shape, 0), cpuPerDelta(path.getValue(), shape, 1),
              cpuPerDelta(path.getValue(), shape, 2));
        }
      }
      if (!plain.isEmpty()) {
        int rows = o.plainSqlRows() / o.clients() * o.clients();
        System.out.println();
        System.out.printf("Plain-SQL writers: C=%d threads, 50-row INSERT transactions, %d rows; throughput relative "
            + "to no server on the database (1.00 = no cost)%n", o.clients(), rows);
        String[] names = {"no deltasync server", "server, nobody listening", "server, one live subscriber"};
        for (int v = 0; v < 3; v++) {
          int variant = v;
          List<Double> millis = plain.stream().map(r -> r[variant]).toList();
          List<Double> ratios = plain.stream().map(r -> r[0] / r[variant]).toList();
          System.out.printf("%-30s %,10.0f rows/s   ratio %.2f [%.2f-%.2f]%n", names[v],
              rows / (PushBenchmark.median(millis) / 1000), PushBenchmark.median(ratios), PushBenchmark.min(ratios),
              PushBenchmark.max(ratios));
        }
      }
    }

    private static double percentile(List<Long> sorted, double p) {
      if (sorted.isEmpty()) {
        return Double.NaN;
      }
      return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }
  }

  /** Runs the workers on platform threads; the clock runs from when all are ready until the last ends. */
  static double timed(List<Callable<Void>> workers, CountDownLatch ready, CountDownLatch start) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(workers.size());
    try {
      List<Future<Void>> futures = new ArrayList<>();
      for (Callable<Void> worker : workers) {
        futures.add(threads.submit(worker));
      }
      while (!ready.await(100, TimeUnit.MILLISECONDS)) {
        for (Future<Void> future : futures) {
          if (future.isDone()) {
            future.get();
          }
        }
      }
      double[] cpuBefore = cpuMeter == null ? null : cpuMeter.sample();
      long begin = System.nanoTime();
      start.countDown();
      for (Future<Void> future : futures) {
        future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      }
      double millis = (System.nanoTime() - begin) / 1e6;
      if (cpuBefore != null) {
        double[] cpuAfter = cpuMeter.sample();
        lastCpuMillis = new double[] {cpuAfter[0] - cpuBefore[0], cpuAfter[1] - cpuBefore[1]};
      }
      return millis;
    } finally {
      threads.shutdownNow();
    }
  }

  static com.google.protobuf.Struct updated(int i) {
    return PushBenchmark.document(i).toBuilder()
        .putFields("done", com.google.protobuf.Value.newBuilder().setBoolValue(true).build()).build();
  }

  static String updatedJson(int i) {
    return PushBenchmark.documentJson(i).replace("\"done\": false", "\"done\": true");
  }
}

package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The network between the server and PostgreSQL cut, through a {@link TcpProxy}: first every connection reset
 * (DROP), then every packet held (STALL), each for reliability.cutSeconds while SDK clients keep creating. Pushes
 * are answered with a retryable status and an ErrorInfo reason (never a hang, never UNKNOWN), health goes
 * NOT_SERVING, and after each cut everything recovers without a server restart, with nothing acknowledged lost or
 * applied twice and every local write in the database once.
 */
@Tag("reliability")
class NetworkCutIT {
  private static final Set<String> RETRYABLE = Set.of("UNAVAILABLE/DATABASE_UNAVAILABLE",
      "RESOURCE_EXHAUSTED/SERVER_BUSY");

  @TempDir
  Path dir;

  @Test
  void pushesFailFastWhileTheDatabaseNetworkIsDroppedOrStalledAndNothingIsLostWhenItReturns() throws Exception {
    long seed = Chaos.seed();
    int cutSeconds = Chaos.integer("cutSeconds", 6);
    System.out.printf("reliability: NetworkCutIT seed=%d cutSeconds=%d%n", seed, cutSeconds);
    History history = new History();
    List<ClientNode> nodes = new ArrayList<>();
    try (PostgresProcess postgres = PostgresProcess.start(dir.resolve("pg"));
        TcpProxy proxy = new TcpProxy(postgres.port());
        ServerProcess server = new ServerProcess("netcut", postgres, Chaos.logs().resolve("netcut-" + seed),
            Map.of("DELTASYNC_DATABASE_URL", "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres"))) {
      server.start();
      for (int i = 0; i < 3; i++) {
        ClientNode node = new ClientNode("writer-" + i, List.of("n"), dir.resolve("w" + i + ".db"), server.port(),
            history, seed + i);
        node.open();
        nodes.add(node);
      }
      for (ClientNode node : nodes) {
        CrashPointIT.await(node.id + " live", node::synced);
      }
      AtomicBoolean writing = new AtomicBoolean(true);
      AtomicInteger created = new AtomicInteger();
      List<Thread> writers = new ArrayList<>();
      for (ClientNode node : nodes) {
        writers.add(Thread.ofPlatform().start(() -> {
          int n = 0;
          while (writing.get()) {
            node.client().create("note", "n", node.id + "-" + n++, CrashPointIT.doc("n", "" + n));
            created.incrementAndGet();
            try {
              Thread.sleep(100);
            } catch (InterruptedException e) {
              return;
            }
          }
        }));
      }
      Map<String, Map<String, Integer>> answersByCut = new java.util.LinkedHashMap<>();
      try (Probes prober = new Probes(server.port(), seed, "prober")) {
        for (TcpProxy.Mode cut : List.of(TcpProxy.Mode.DROP, TcpProxy.Mode.STALL)) {
          Thread.sleep(1_000);
          proxy.mode(cut);
          CrashPointIT.await("health NOT_SERVING during " + cut, () -> prober.health() == ServingStatus.NOT_SERVING);
          int sent = prober.probeFor(cutSeconds);
          List<String> answers = prober.drain();
          answersByCut.put(cut.name(), Probes.summarize(answers));
          System.out.printf("reliability: NetworkCutIT %s probes=%d answers=%s slowestAnswerMillis=%d%n", cut, sent,
              Probes.summarize(answers), prober.slowestMillis());
          assertThat(answers).as("answers to pushes while the network is cut (%s)", cut).isNotEmpty()
              .allSatisfy(a -> assertThat(a).isIn(RETRYABLE));
          proxy.mode(TcpProxy.Mode.FORWARD);
          CrashPointIT.await("health SERVING after " + cut, () -> prober.health() == ServingStatus.SERVING);
        }
        prober.probe();
        assertThat(prober.drain()).as("a push after the cuts").singleElement().isIn("DELTA_STATUS_APPLIED",
            "DELTA_STATUS_CONFLICT");
      } finally {
        writing.set(false);
        for (Thread writer : writers) {
          writer.join();
        }
      }

      Map<String, Set<String>> scopes = new HashMap<>();
      nodes.forEach(n -> scopes.put(n.id, Set.of("n")));
      CrashPointIT.await("every writer synced", () -> nodes.stream().allMatch(ClientNode::synced));
      try (Connection sql = postgres.connect()) {
        CrashPointIT.await("every copy equals the database", () -> {
          try {
            Map<String, Checker.State> expected = Checker.databaseState(sql, Set.of("n"));
            return nodes.stream().allMatch(n -> expected.equals(n.localState()));
          } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
          }
        });
        Map<String, Map<String, Checker.State>> local = new HashMap<>();
        nodes.forEach(n -> local.put(n.id, n.localState()));
        Checker checker = new Checker();
        checker.checkConvergence(local, scopes, sql);
        checker.checkHistory(history, sql);
        System.out.printf("reliability: NetworkCutIT seed=%d created=%d answers=%s rejections=%s counts=%s%n", seed,
            created.get(), answersByCut, Chaos.rejectionsByReason(history), checker.counts());
        assertThat(checker.violations()).isEmpty();
        assertThat(Checker.databaseState(sql, Set.of("n")).keySet().stream().filter(k -> k.contains("/writer-")))
            .as("every local create reached the database: nothing lost").hasSize(created.get());
      }
      assertThat(server.isAlive()).as("recovered without a server restart").isTrue();
      assertThat(server.kills()).isZero();
    } finally {
      for (ClientNode node : nodes) {
        node.close();
      }
    }
  }

  /**
   * A push whose transaction is waiting for PostgreSQL's answer when the network stalls: the answer, held by the
   * stalled network, never comes. The server must end the wait itself (PgJDBC's socketTimeout, statement_timeout +
   * 15 s; statement_timeout is 5 s here) and answer a retryable status, not leave the call hanging until the network
   * returns; the retry of the same delta is then applied at most once.
   */
  @Test
  void aPushWaitingForPostgresWhenTheNetworkStallsIsAnsweredWhileItIsStillStalled() throws Exception {
    long seed = Chaos.seed();
    System.out.printf("reliability: NetworkCutIT (in-flight stall) seed=%d%n", seed);
    try (PostgresProcess postgres = PostgresProcess.start(dir.resolve("pg"));
        TcpProxy proxy = new TcpProxy(postgres.port());
        ServerProcess server = new ServerProcess("netstall", postgres, Chaos.logs().resolve("netstall-" + seed),
            Map.of("DELTASYNC_DATABASE_URL", "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres",
                "DELTASYNC_DB_STATEMENT_TIMEOUT_SECONDS", "5"));
        ) {
      server.start();
      io.deltasync.v1.PushRequest push = new FuzzInputs(seed, "stalled").validPush();
      var channel = io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      var answer = new java.util.concurrent.CompletableFuture<String>();
      try (Connection holder = postgres.connect()) {
        holder.setAutoCommit(false);
        try (java.sql.Statement lock = holder.createStatement()) {
          lock.execute("lock table entity in exclusive mode");
        }
        Thread.ofPlatform().start(() -> answer.complete(answer(channel, push)));
        CrashPointIT.await("the push waits in PostgreSQL for the table lock", () -> lockWaiters(postgres) > 0);
        // The push's statement is now in flight: stall the network, then let PostgreSQL answer into the stall.
        proxy.mode(TcpProxy.Mode.STALL);
        holder.rollback();
        CrashPointIT.await("the push answered while the network is still stalled", answer::isDone);
      }
      String during = answer.get();
      System.out.printf("reliability: NetworkCutIT in-flight stall answer=%s%n", during);
      assertThat(during).isIn("UNAVAILABLE/DATABASE_UNAVAILABLE", "RESOURCE_EXHAUSTED/SERVER_BUSY");

      proxy.mode(TcpProxy.Mode.FORWARD);
      try (Probes health = new Probes(server.port(), seed, "health")) {
        CrashPointIT.await("health SERVING after the stall", () -> health.health() == ServingStatus.SERVING);
      }
      // The retry (same delta_id) is applied, or answered from the first attempt if that one committed after all.
      String retried = answer(channel, push);
      assertThat(retried).isIn("DELTA_STATUS_APPLIED", "DELTA_STATUS_CONFLICT");
      channel.shutdownNow();
      try (Connection sql = postgres.connect(); java.sql.Statement s = sql.createStatement();
          java.sql.ResultSet rows = s.executeQuery("select count(*) from change_log where delta_id = '"
              + push.getDeltas(0).getDeltaId() + "'")) {
        rows.next();
        assertThat(rows.getInt(1)).as("the delta applied once").isEqualTo(1);
      }
      assertThat(server.isAlive()).isTrue();
    }
  }

  private static String answer(io.grpc.ManagedChannel channel, io.deltasync.v1.PushRequest push) {
    try {
      var result = io.deltasync.v1.SyncServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(300, java.util.concurrent.TimeUnit.SECONDS).push(push).getResults(0);
      if (result.getStatus() == io.deltasync.v1.DeltaStatus.DELTA_STATUS_REJECTED) {
        return io.grpc.Status.fromCodeValue(result.getError().getCode()).getCode() + "/"
            + result.getError().getDetails(0).unpack(com.google.rpc.ErrorInfo.class).getReason();
      }
      return result.getStatus().name();
    } catch (io.grpc.StatusRuntimeException e) {
      return e.getStatus().getCode().name();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      return "unparsable ErrorInfo";
    }
  }

  private static int lockWaiters(PostgresProcess postgres) {
    try (Connection sql = postgres.connect(); java.sql.Statement s = sql.createStatement();
        java.sql.ResultSet rows = s.executeQuery("select count(*) from pg_stat_activity where application_name = "
            + "'deltasync' and wait_event_type = 'Lock'")) {
      rows.next();
      return rows.getInt(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}

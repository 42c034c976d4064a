package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.StatusProto;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL stopped under a running server while SDK clients keep writing: calls fail with a retryable status (not
 * a hang, not UNKNOWN), health goes NOT_SERVING, and when PostgreSQL returns everything converges without a server
 * restart and with nothing acknowledged lost or applied twice. Knob: reliability.outageSeconds.
 */
@Tag("reliability")
class DatabaseOutageIT {
  private static final Set<Status.Code> RETRYABLE = EnumSet.of(Status.Code.UNAVAILABLE,
      Status.Code.RESOURCE_EXHAUSTED);

  @TempDir
  Path dir;

  @Test
  void clientsWriteThroughAPostgresOutageAndNothingIsLostOrDoubledWhenItReturns() throws Exception {
    long seed = Chaos.seed();
    int outageSeconds = Chaos.integer("outageSeconds", 15);
    System.out.printf("reliability: DatabaseOutageIT seed=%d outageSeconds=%d%n", seed, outageSeconds);
    History history = new History();
    List<ClientNode> nodes = new ArrayList<>();
    try (PostgresProcess postgres = PostgresProcess.start(dir.resolve("pg"));
        ServerProcess server = new ServerProcess("outage", postgres, Chaos.logs().resolve("outage-" + seed),
            Map.of())) {
      server.start();
      for (int i = 0; i < 4; i++) {
        ClientNode node = new ClientNode("writer-" + i, List.of("o"), dir.resolve("w" + i + ".db"), server.port(),
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
            node.client().create("note", "o", node.id + "-" + n++, CrashPointIT.doc("n", "" + n));
            created.incrementAndGet();
            try {
              Thread.sleep(100);
            } catch (InterruptedException e) {
              return;
            }
          }
        }));
      }
      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      List<String> outageAnswers = new CopyOnWriteArrayList<>();
      try {
        Thread.sleep(1_000);
        postgres.stop();
        CrashPointIT.await("health NOT_SERVING", () -> health(channel) == ServingStatus.NOT_SERVING);
        // While PostgreSQL is down, a push is answered with a retryable status and an ErrorInfo reason (the call's
        // or, documented, each delta's), before its deadline (DEADLINE_EXCEEDED would mean it hung), never UNKNOWN.
        // How long the answer takes is printed, not asserted.
        long outageEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(outageSeconds);
        int probes = 0;
        long slowestAnswer = 0;
        while (System.nanoTime() < outageEnd) {
          long asked = System.nanoTime();
          try {
            var response = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                .push(new FuzzInputs(seed + probes, "prober").validPush());
            // The documented per-delta "not now": the call succeeds, each delta's result carries the status.
            for (var result : response.getResultsList()) {
              boolean reason = result.getError().getDetailsList().stream()
                  .anyMatch(a -> a.is(com.google.rpc.ErrorInfo.class));
              outageAnswers.add(Status.fromCodeValue(result.getError().getCode()).getCode()
                  + (reason ? "" : " without ErrorInfo"));
            }
          } catch (StatusRuntimeException e) {
            com.google.rpc.Status detail = StatusProto.fromThrowable(e);
            boolean reason = detail != null && detail.getDetailsList().stream()
                .anyMatch(a -> a.is(com.google.rpc.ErrorInfo.class));
            outageAnswers.add(e.getStatus().getCode() + (reason ? "" : " without ErrorInfo"));
          }
          probes++;
          slowestAnswer = Math.max(slowestAnswer, System.nanoTime() - asked);
          Thread.sleep(500);
        }
        System.out.printf("reliability: DatabaseOutageIT probes=%d slowestAnswerMillis=%d%n", probes,
            TimeUnit.NANOSECONDS.toMillis(slowestAnswer));
        postgres.startAgain();
        CrashPointIT.await("health SERVING again", () -> health(channel) == ServingStatus.SERVING);
        Thread.sleep(1_000);
      } finally {
        writing.set(false);
        for (Thread writer : writers) {
          writer.join();
        }
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      assertThat(outageAnswers).as("answers to pushes during the outage").isNotEmpty()
          .allSatisfy(a -> assertThat(a).isIn(RETRYABLE.stream().map(Enum::name).toList()));

      Map<String, Set<String>> scopes = new HashMap<>();
      nodes.forEach(n -> scopes.put(n.id, Set.of("o")));
      CrashPointIT.await("every writer synced", () -> nodes.stream().allMatch(ClientNode::synced));
      Map<String, Map<String, Checker.State>> local = new HashMap<>();
      try (Connection sql = postgres.connect()) {
        CrashPointIT.await("every copy equals the database", () -> {
          try {
            Map<String, Checker.State> expected = Checker.databaseState(sql, Set.of("o"));
            return nodes.stream().allMatch(n -> expected.equals(n.localState()));
          } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
          }
        });
        nodes.forEach(n -> local.put(n.id, n.localState()));
        Checker checker = new Checker();
        checker.checkConvergence(local, scopes, sql);
        checker.checkHistory(history, sql);
        Set<String> ids = new HashSet<>(Checker.databaseState(sql, Set.of("o")).keySet());
        System.out.printf("reliability: DatabaseOutageIT seed=%d created=%d outageAnswers=%s counts=%s%n", seed,
            created.get(), summarize(outageAnswers), checker.counts());
        assertThat(checker.violations()).isEmpty();
        assertThat(ids).as("every local create reached the database: nothing lost").hasSize(created.get());
      }
      assertThat(server.isAlive()).as("recovered without a server restart").isTrue();
      assertThat(server.kills()).isZero();
    } finally {
      for (ClientNode node : nodes) {
        node.close();
      }
    }
  }

  private static Map<String, Integer> summarize(List<String> answers) {
    Map<String, Integer> counts = new java.util.TreeMap<>();
    answers.forEach(a -> counts.merge(a, 1, Integer::sum));
    return counts;
  }

  private static ServingStatus health(ManagedChannel channel) {
    try {
      return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    } catch (StatusRuntimeException e) {
      return ServingStatus.UNKNOWN;
    }
  }
}

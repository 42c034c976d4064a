package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The request pool exhausted (DELTASYNC_DB_POOL_SIZE=2) for reliability.exhaustSeconds: another database session
 * holds an EXCLUSIVE lock on the entity table, so every write transaction that gets a connection waits in
 * PostgreSQL holding it, while SDK writers and six concurrent probes keep pushing. Pushes that find no connection
 * are answered at once with the retryable RESOURCE_EXHAUSTED / SERVER_BUSY (with a retry delay), while the pool is
 * still held (not after it frees: they did not hang); health stays SERVING (a busy pool is not a dead database);
 * and after the lock is released everything recovers without a restart, every local write in the database once.
 */
@Tag("reliability")
class PoolExhaustionIT {
  @TempDir
  Path dir;

  @Test
  void pushesAreToldNotNowWhileThePoolIsExhaustedAndNothingIsLostWhenItFrees() throws Exception {
    long seed = Chaos.seed();
    int exhaustSeconds = Chaos.integer("exhaustSeconds", 8);
    System.out.printf("reliability: PoolExhaustionIT seed=%d exhaustSeconds=%d%n", seed, exhaustSeconds);
    History history = new History();
    List<ClientNode> nodes = new ArrayList<>();
    try (PostgresProcess postgres = PostgresProcess.start(dir.resolve("pg"));
        ServerProcess server = new ServerProcess("pool", postgres, Chaos.logs().resolve("pool-" + seed),
            Map.of("DELTASYNC_DB_POOL_SIZE", "2"))) {
      server.start();
      for (int i = 0; i < 3; i++) {
        ClientNode node = new ClientNode("writer-" + i, List.of("p"), dir.resolve("w" + i + ".db"), server.port(),
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
            node.client().create("note", "p", node.id + "-" + n++, CrashPointIT.doc("n", "" + n));
            created.incrementAndGet();
            try {
              Thread.sleep(100);
            } catch (InterruptedException e) {
              return;
            }
          }
        }));
      }
      AtomicBoolean exhausted = new AtomicBoolean();
      List<String> whileExhausted = new CopyOnWriteArrayList<>();
      List<String> afterwards = new CopyOnWriteArrayList<>();
      List<ServingStatus> healthWhileExhausted = new CopyOnWriteArrayList<>();
      try (Probes health = new Probes(server.port(), seed, "health")) {
        Thread.sleep(1_000);
        try (Connection holder = postgres.connect()) {
          holder.setAutoCommit(false);
          try (Statement lock = holder.createStatement()) {
            lock.execute("lock table entity in exclusive mode");
          }
          exhausted.set(true);
          List<Thread> probers = new ArrayList<>();
          for (int p = 0; p < 6; p++) {
            int id = p;
            probers.add(Thread.ofPlatform().start(() -> {
              try (Probes probes = new Probes(server.port(), seed * 7 + id, "prober-" + id)) {
                while (exhausted.get()) {
                  List<String> answers = probes.probe();
                  (exhausted.get() ? whileExhausted : afterwards).addAll(answers);
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }));
          }
          // At least exhaustSeconds, and until three answers came while the pool is still held: a server that let
          // pushes wait for the pool until it frees would keep this loop going until the guard fails the test.
          long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(exhaustSeconds);
          java.time.Instant guard = java.time.Instant.now().plusSeconds(120);
          while (System.nanoTime() < end || whileExhausted.size() < 3) {
            assertThat(java.time.Instant.now()).as("still waiting for answers while the pool is exhausted")
                .isBefore(guard);
            healthWhileExhausted.add(health.health());
            Thread.sleep(500);
          }
          exhausted.set(false);
          holder.rollback();
          for (Thread prober : probers) {
            prober.join();
          }
        }
        System.out.printf("reliability: PoolExhaustionIT answersWhileExhausted=%s answersAfter=%s health=%s%n",
            Probes.summarize(whileExhausted), Probes.summarize(afterwards), Set.copyOf(healthWhileExhausted));
        assertThat(whileExhausted).as("pushes answered while the pool was still exhausted: they did not hang")
            .isNotEmpty().allSatisfy(a -> assertThat(a).isEqualTo("RESOURCE_EXHAUSTED/SERVER_BUSY"));
        assertThat(afterwards).allSatisfy(a -> assertThat(a).isIn("DELTA_STATUS_APPLIED", "DELTA_STATUS_CONFLICT",
            "RESOURCE_EXHAUSTED/SERVER_BUSY"));
        assertThat(healthWhileExhausted).as("a busy pool is not a dead database").containsOnly(ServingStatus.SERVING);
        assertThat(health.probe()).as("a push after the pool freed").singleElement()
            .isIn("DELTA_STATUS_APPLIED", "DELTA_STATUS_CONFLICT");
      } finally {
        writing.set(false);
        for (Thread writer : writers) {
          writer.join();
        }
      }

      Map<String, Set<String>> scopes = new HashMap<>();
      nodes.forEach(n -> scopes.put(n.id, Set.of("p")));
      CrashPointIT.await("every writer synced", () -> nodes.stream().allMatch(ClientNode::synced));
      try (Connection sql = postgres.connect()) {
        CrashPointIT.await("every copy equals the database", () -> {
          try {
            Map<String, Checker.State> expected = Checker.databaseState(sql, Set.of("p"));
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
        System.out.printf("reliability: PoolExhaustionIT seed=%d created=%d rejections=%s counts=%s%n", seed,
            created.get(), Chaos.rejectionsByReason(history), checker.counts());
        assertThat(checker.violations()).isEmpty();
        assertThat(Checker.databaseState(sql, Set.of("p")).keySet().stream().filter(k -> k.contains("/writer-")))
            .as("every local create reached the database: nothing lost").hasSize(created.get());
      }
      assertThat(server.isAlive()).isTrue();
    } finally {
      for (ClientNode node : nodes) {
        node.close();
      }
    }
  }
}

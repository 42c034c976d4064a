package io.deltasync.bench;

import io.deltasync.server.database.Database;
import io.deltasync.server.database.EmbeddedDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * Each entity trigger's share of a plain-SQL write: C threads commit 50-row INSERT transactions (then the same rows
 * as 50-row UPDATE transactions) into {@code entity} on a durable embedded PostgreSQL, with all triggers, with each
 * one disabled in turn, and with none; rounds interleaved, medians reported. Disabling a trigger is for measuring
 * only: the triggers are what keeps plain-SQL writes in the change log. Usage: {@code [threads] [rows] [rounds]}.
 */
public final class TriggerCostBenchmark {
  private static final List<String> TRIGGERS = List.of("entity_stamp", "entity_log_inserts", "entity_log_updates");

  private TriggerCostBenchmark() {}

  public static void main(String[] args) throws Exception {
    int threads = args.length > 0 ? Integer.parseInt(args[0]) : 8;
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    if (System.getProperty("DELTASYNC_LOG_LEVEL") == null) {
      System.setProperty("DELTASYNC_LOG_LEVEL", "WARN");
    }
    Path dataDir = Files.createTempDirectory("deltasync-trigger-bench-");
    try (EmbeddedDatabase postgres = EmbeddedDatabase.start(dataDir, 0);
        Database database = Database.open(new Database.Settings(Optional.of(postgres.jdbcUrl()), postgres.user(),
            postgres.password(), dataDir, threads + 2, java.time.Duration.ofSeconds(30)))) {
      Map<String, List<Double>> rates = new LinkedHashMap<>();
      List<String> variants = new ArrayList<>();
      variants.add("all triggers");
      TRIGGERS.forEach(t -> variants.add("without " + t));
      variants.add("no triggers");
      int scope = 0;
      for (int round = -1; round < rounds; round++) {
        for (String variant : variants) {
          setTriggers(database, variant);
          double millis = run(database, "tc-" + (scope++), threads, rows);
          if (round >= 0) {
            rates.computeIfAbsent(variant, k -> new ArrayList<>()).add(2.0 * rows / (millis / 1000));
          }
          System.out.printf("  %-8s %-32s %7.0f ms%n", round < 0 ? "warm-up" : "round " + (round + 1), variant,
              millis);
        }
        setTriggers(database, "all triggers");
      }
      double all = PushBenchmark.median(rates.get("all triggers"));
      double none = PushBenchmark.median(rates.get("no triggers"));
      System.out.printf("%nTrigger cost: C=%d threads, %d rows inserted then updated in 50-row transactions, "
          + "median of %d rounds%n", threads, rows, rounds);
      System.out.printf("%-34s %12s %28s%n", "variant", "rows/s", "share of the triggers' cost");
      for (Map.Entry<String, List<Double>> entry : rates.entrySet()) {
        double rate = PushBenchmark.median(entry.getValue());
        String share = entry.getKey().startsWith("without ")
            ? String.format("%.0f%%", 100 * (1 / all - 1 / rate) / (1 / all - 1 / none)) : "";
        System.out.printf("%-34s %,12.0f %28s%n", entry.getKey(), rate, share);
      }
    } finally {
      PushBenchmark.deleteRecursively(dataDir);
    }
  }

  private static void setTriggers(Database database, String variant) throws Exception {
    try (Connection connection = database.dataSource().getConnection();
        Statement statement = connection.createStatement()) {
      for (String trigger : TRIGGERS) {
        boolean off = variant.equals("no triggers") || variant.equals("without " + trigger);
        statement.execute("ALTER TABLE entity " + (off ? "DISABLE" : "ENABLE") + " TRIGGER " + trigger);
      }
    }
  }

  private static double run(Database database, String scope, int threads, int rows) throws Exception {
    int perThread = rows / threads;
    List<Callable<Void>> workers = new ArrayList<>();
    CountDownLatch ready = new CountDownLatch(threads);
    CountDownLatch start = new CountDownLatch(1);
    for (int t = 0; t < threads; t++) {
      int first = t * perThread;
      workers.add(() -> {
        try (Connection connection = database.dataSource().getConnection();
            PreparedStatement insert = connection.prepareStatement("INSERT INTO entity (scope, entity_type, "
                + "entity_id, data) SELECT ?, 'note', 'e' || g, jsonb_build_object('title', 'note ' || g, "
                + "'body', 'a small benchmark document', 'n', g, 'done', false) FROM generate_series(?, ?) g");
            PreparedStatement update = connection.prepareStatement("UPDATE entity SET data = data || "
                + "'{\"done\": true}', row_version = row_version + 1 WHERE scope = ? AND entity_type = 'note' "
                + "AND entity_id IN (SELECT 'e' || g FROM generate_series(?, ?) g)")) {
          connection.setAutoCommit(false);
          ready.countDown();
          start.await();
          for (PreparedStatement statement : List.of(insert, update)) {
            for (int from = first; from < first + perThread; from += 50) {
              statement.setString(1, scope);
              statement.setInt(2, from);
              statement.setInt(3, Math.min(from + 50, first + perThread) - 1);
              statement.executeUpdate();
              connection.commit();
            }
          }
        }
        return null;
      });
    }
    return WriteBenchmark.timed(workers, ready, start);
  }
}

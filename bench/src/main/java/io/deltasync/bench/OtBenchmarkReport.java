package io.deltasync.bench;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link OtTransformBenchmark} and prints, from that one run, how the time grows with n: the ratios
 * time(100)/time(10) and time(1000)/time(100), where about 10 means linear. Arguments are JMH options (for example
 * {@code -wi 1 -i 3} for a quicker, rougher run).
 */
public final class OtBenchmarkReport {
  private OtBenchmarkReport() {}

  public static void main(String[] args) throws RunnerException, CommandLineOptionException {
    CommandLineOptions commandLine = new CommandLineOptions(args);
    Collection<RunResult> results = new Runner(new OptionsBuilder()
        .parent(commandLine)
        .include(OtTransformBenchmark.class.getName())
        .build()).run();

    Map<String, Map<Integer, Double>> scores = new TreeMap<>();
    String unit = "";
    for (RunResult result : results) {
      String benchmark = result.getParams().getBenchmark();
      benchmark = benchmark.substring(benchmark.lastIndexOf('.') + 1);
      int n = Integer.parseInt(result.getParams().getParam("n"));
      scores.computeIfAbsent(benchmark, key -> new TreeMap<>()).put(n, result.getPrimaryResult().getScore());
      unit = result.getPrimaryResult().getScoreUnit();
    }

    System.out.println();
    System.out.println("Operational transform cost by n (ratio ≈ 10 per step of 10 means linear):");
    System.out.printf("%-20s %14s %14s %14s %12s %12s%n", "benchmark", "n=10", "n=100", "n=1000",
        "t100/t10", "t1000/t100");
    for (Map.Entry<String, Map<Integer, Double>> entry : scores.entrySet()) {
      Map<Integer, Double> byN = entry.getValue();
      System.out.printf("%-20s %14s %14s %14s %12s %12s%n", entry.getKey(), score(byN, 10, unit),
          score(byN, 100, unit), score(byN, 1000, unit), ratio(byN, 100, 10), ratio(byN, 1000, 100));
    }
  }

  private static String score(Map<Integer, Double> byN, int n, String unit) {
    Double score = byN.get(n);
    return score == null ? "-" : String.format("%.2f %s", score, unit);
  }

  private static String ratio(Map<Integer, Double> byN, int larger, int smaller) {
    Double big = byN.get(larger);
    Double small = byN.get(smaller);
    return big == null || small == null ? "-" : String.format("%.1f", big / small);
  }
}

package io.deltasync.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The write benchmark with its unary Push clients in a process of their own ({@code --client-process}), at smoke
 * size: the client JVM starts, runs every round it is sent (every result APPLIED, or the benchmark fails), and its
 * CPU is reported in its own column. Speed is never asserted here.
 */
class WriteBenchmarkClientProcessIT {
  @Test
  void theClientProcessRunsEveryRoundAndReportsItsCpuApart() throws Exception {
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream out = System.out;
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      WriteBenchmark.main(new String[] {"-c", "2", "-b", "5", "-n", "40", "-w", "1", "-r", "2", "--no-stream",
          "--plain-sql-rows", "0", "--client-process"});
    } finally {
      System.setOut(out);
    }
    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
    out.println(String.join("\n", lines));

    // the warm-up and both rounds
    assertThat(lines).filteredOn(l -> l.contains("unary Push") && l.contains(" ms,")).hasSize(3);
    String baseline = lines.stream().filter(l -> l.contains("JDBC multi-row (baseline)")).findFirst().orElseThrow();
    String push = lines.stream().filter(l -> l.contains("deltasync unary Push")).findFirst().orElseThrow();
    assertThat(lines).anySatisfy(l -> assertThat(l).contains("client cpu us"));
    // The baseline runs in this JVM: no client process column. The push row's last column is the client process's
    // CPU per delta, a number.
    assertThat(baseline.trim()).endsWith("-");
    String[] columns = push.trim().split("\\s+");
    assertThat(columns[columns.length - 1]).as("client cpu us").matches("\\d+");
  }
}

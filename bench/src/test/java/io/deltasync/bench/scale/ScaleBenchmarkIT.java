package io.deltasync.bench.scale;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scale benchmark at smoke size, so that it never rots: the same code as {@code bench/run.sh} (a server in its
 * own JVM, the load from this one) produces every figure and the three files, and every delivery completes. How
 * fast anything is, is not checked here: timing is measured by the benchmark, never asserted in a test.
 */
class ScaleBenchmarkIT {
  @Test
  void aSmokeRunProducesEveryFigureAndLosesNoDelivery(@TempDir Path out) throws Exception {
    Report report = ScaleBenchmark.run(ScaleOptions.parse(new String[] {"--smoke", "--out", out.toString()}));

    assertThat(out.resolve("results.json")).isNotEmptyFile();
    assertThat(out.resolve("results.md")).isNotEmptyFile();
    assertThat(Files.readAllBytes(out.resolve("plots.png"))).startsWith(0x89, 'P', 'N', 'G');
    assertThat(Files.readString(out.resolve("results.md"))).contains("| figure |", "cores",
        "PostgreSQL");

    assertThat(report.figures).extracting(Report.Figure::section).contains("fan-out", "reconnect storm",
        "stalled consumer", "memory", "catch-up", "initial sync", "write cost");
    assertThat(report.figures).allSatisfy(f -> assertThat(f.value()).as(f.name()).isFinite());
    // The JIT's and GC's share of the server's CPU, beside the catch-up's and the initial sync's.
    assertThat(report.figures.stream().filter(f -> f.name().contains("JIT compiler threads")))
        .extracting(Report.Figure::section).containsExactlyInAnyOrder("catch-up", "initial sync");
    // The first catch-up after start and the last of the rounds both, each against the raw read.
    assertThat(report.figures.stream().filter(f -> f.section().equals("catch-up") && f.name().contains("catch-up of")))
        .extracting(Report.Figure::name).anySatisfy(n -> assertThat(n).startsWith("the first catch-up"))
        .anySatisfy(n -> assertThat(n).contains("the last of 2"));
    List<Report.Figure> mustBeZero = report.figures.stream()
        .filter(f -> f.name().startsWith("missing") || f.name().contains("failed") || f.name().contains("missed"))
        .toList();
    assertThat(mustBeZero).hasSizeGreaterThanOrEqualTo(8)
        .allSatisfy(f -> assertThat(f.value()).as(f.name()).isZero());
    // Every figure that has a baseline was measured beside it.
    assertThat(report.figures.stream().filter(f -> !f.baselineName().isEmpty()))
        .allSatisfy(f -> assertThat(f.baseline()).as(f.name()).isFinite().isPositive());
    assertThat(report.fanOutLatency).containsOnlyKeys(3, 12);
    assertThat(report.writeThroughput).containsOnlyKeys(1, 50);
    assertThat(report.machine).containsKeys("cores", "JDK", "PostgreSQL", "uptime at start");
  }
}

package io.deltasync.bench.scale;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * What one run measured: figures (each with its same-run baseline, ratio and target where there is one), the series
 * behind the plots, and the machine. Written as results.json, results.md and plots.png.
 */
final class Report {
  /**
   * One figure.
   *
   * @param name what was measured
   * @param value the figure
   * @param unit its unit
   * @param baseline the same-run baseline (NaN when there is none)
   * @param baselineName what the baseline is
   * @param target the target, as text ("" when there is none)
   * @param met whether the target was met (null when there is none)
   */
  record Figure(String section, String name, double value, String unit, double baseline, String baselineName,
      String target, Boolean met) {
    double ratio() {
      return Double.isNaN(baseline) || baseline == 0 ? Double.NaN : value / baseline;
    }
  }

  final Map<String, Object> machine = new LinkedHashMap<>();
  final List<Figure> figures = new ArrayList<>();
  final Map<String, Object> details = new LinkedHashMap<>();
  /** Fan-out: subscribers → {p50, p99, max} in ms (steady rounds only). */
  final Map<Integer, double[]> fanOutLatency = new java.util.TreeMap<>();
  /** Write cost: batch size → {deltasync deltas/s, JDBC rows/s}. */
  final Map<Integer, double[]> writeThroughput = new java.util.TreeMap<>();

  void add(String section, String name, double value, String unit) {
    figures.add(new Figure(section, name, value, unit, Double.NaN, "", "", null));
  }

  void add(String section, String name, double value, String unit, double baseline, String baselineName) {
    figures.add(new Figure(section, name, value, unit, baseline, baselineName, "", null));
  }

  void add(String section, String name, double value, String unit, double baseline, String baselineName,
      String target, Boolean met) {
    figures.add(new Figure(section, name, value, unit, baseline, baselineName, target, met));
  }

  /** Writes results.json, results.md and plots.png into {@code dir}. */
  void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("machine", machine);
    List<Map<String, Object>> list = new ArrayList<>();
    for (Figure f : figures) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("section", f.section());
      m.put("name", f.name());
      m.put("value", finite(f.value()));
      m.put("unit", f.unit());
      m.put("baseline", finite(f.baseline()));
      m.put("baseline_name", f.baselineName());
      m.put("ratio", finite(f.ratio()));
      m.put("target", f.target());
      m.put("met", f.met());
      list.add(m);
    }
    json.put("figures", list);
    json.put("fan_out_latency_ms", fanOutLatency.entrySet().stream().map(e -> Map.of("subscribers", e.getKey(),
        "p50", e.getValue()[0], "p99", e.getValue()[1], "max", e.getValue()[2])).toList());
    json.put("write_throughput", writeThroughput.entrySet().stream().map(e -> Map.of("batch", e.getKey(),
        "deltasync_deltas_per_s", e.getValue()[0], "jdbc_rows_per_s", e.getValue()[1])).toList());
    json.put("details", details);
    Files.writeString(dir.resolve("results.json"),
        new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create().toJson(json) + "\n");
    Files.writeString(dir.resolve("results.md"), markdown());
    plot(dir.resolve("plots"));
  }

  private static Double finite(double value) {
    return Double.isFinite(value) ? value : null;
  }

  String markdown() {
    StringBuilder md = new StringBuilder();
    md.append("Machine: ");
    List<String> parts = new ArrayList<>();
    machine.forEach((k, v) -> parts.add(k + " " + v));
    md.append(String.join("; ", parts)).append("\n\n");
    md.append("| section | figure | value | baseline (same run) | ratio | target | met |\n");
    md.append("| --- | --- | ---: | --- | ---: | --- | --- |\n");
    for (Figure f : figures) {
      md.append("| ").append(f.section()).append(" | ").append(f.name()).append(" | ")
          .append(number(f.value())).append(' ').append(f.unit()).append(" | ")
          .append(Double.isNaN(f.baseline()) ? "" : number(f.baseline()) + " " + f.unit() + " (" + f.baselineName()
              + ")").append(" | ")
          .append(Double.isNaN(f.ratio()) ? "" : String.format(Locale.ROOT, "%.2f×", f.ratio())).append(" | ")
          .append(f.target()).append(" | ")
          .append(f.met() == null ? "" : f.met() ? "yes" : "**no**").append(" |\n");
    }
    return md.toString();
  }

  static String number(double value) {
    if (!Double.isFinite(value)) {
      return "n/a";
    }
    if (Math.abs(value) >= 100 || value == Math.rint(value)) {
      return String.format(Locale.ROOT, "%,.0f", value);
    }
    return String.format(Locale.ROOT, "%.2f", value);
  }

  private void plot(Path base) throws IOException {
    XYChart latency = new XYChartBuilder().width(640).height(420).title("Fan-out: commit-to-receipt latency")
        .xAxisTitle("subscribers (one connection each)").yAxisTitle("ms").build();
    latency.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    latency.getStyler().setXAxisLogarithmic(true);
    if (!fanOutLatency.isEmpty()) {
      List<Integer> s = new ArrayList<>(fanOutLatency.keySet());
      latency.addSeries("p50", s, s.stream().map(k -> fanOutLatency.get(k)[0]).toList());
      latency.addSeries("p99", s, s.stream().map(k -> fanOutLatency.get(k)[1]).toList());
      latency.addSeries("target p99 (100 ms)", s, s.stream().map(k -> 100.0).toList());
    }
    XYChart writes = new XYChartBuilder().width(640).height(420).title("Write throughput vs batch size")
        .xAxisTitle("deltas per push (rows per JDBC transaction)").yAxisTitle("per second").build();
    writes.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    writes.getStyler().setXAxisLogarithmic(true);
    if (!writeThroughput.isEmpty()) {
      List<Integer> b = new ArrayList<>(writeThroughput.keySet());
      writes.addSeries("deltasync (unary Push)", b, b.stream().map(k -> writeThroughput.get(k)[0]).toList());
      writes.addSeries("plain JDBC (baseline)", b, b.stream().map(k -> writeThroughput.get(k)[1]).toList());
    }
    BitmapEncoder.saveBitmap(List.of(latency, writes), 1, 2, base.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}

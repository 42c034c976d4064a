package io.deltasync.server.telemetry;

import io.deltasync.v1.GetMetricsResponse;
import io.deltasync.v1.Metric;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * GetMetrics' answer: the very samples the Prometheus endpoint writes, with the same names and labels, read from the
 * same registry snapshot model (not a second set of meters that could drift from the first).
 */
public final class MetricsView {
  private MetricsView() {}

  /** Every sample of the registry, sorted by name, then labels. */
  public static GetMetricsResponse of(PrometheusMeterRegistry registry) {
    List<Metric> metrics = new ArrayList<>();
    for (MetricSnapshot snapshot : registry.getPrometheusRegistry().scrape()) {
      String name = snapshot.getMetadata().getPrometheusName();
      for (DataPointSnapshot point : snapshot.getDataPoints()) {
        switch (snapshot) {
          case CounterSnapshot c -> add(metrics, name + "_total", point, Map.of(),
              ((CounterSnapshot.CounterDataPointSnapshot) point).getValue());
          case GaugeSnapshot g -> add(metrics, name, point, Map.of(),
              ((GaugeSnapshot.GaugeDataPointSnapshot) point).getValue());
          case HistogramSnapshot h -> histogram(metrics, name, (HistogramSnapshot.HistogramDataPointSnapshot) point);
          case SummarySnapshot s -> {
            var summary = (SummarySnapshot.SummaryDataPointSnapshot) point;
            add(metrics, name + "_count", point, Map.of(), summary.getCount());
            add(metrics, name + "_sum", point, Map.of(), summary.getSum());
          }
          case InfoSnapshot i -> add(metrics, name + "_info", point, Map.of(), 1);
          default -> { }  // no other kind is registered by Micrometer
        }
      }
    }
    metrics.sort(Comparator.comparing(Metric::getName).thenComparing(m -> m.getLabelsMap().toString()));
    return GetMetricsResponse.newBuilder().addAllMetrics(metrics).build();
  }

  private static void histogram(List<Metric> metrics, String name, HistogramSnapshot.HistogramDataPointSnapshot point) {
    long cumulative = 0;
    for (var bucket : point.getClassicBuckets()) {
      cumulative += bucket.getCount();
      double bound = bucket.getUpperBound();
      add(metrics, name + "_bucket", point, Map.of("le", bound == Double.POSITIVE_INFINITY ? "+Inf"
          : Double.toString(bound)), cumulative);
    }
    add(metrics, name + "_count", point, Map.of(), point.getCount());
    add(metrics, name + "_sum", point, Map.of(), point.getSum());
  }

  private static void add(List<Metric> metrics, String name, DataPointSnapshot point, Map<String, String> extra,
      double value) {
    Map<String, String> labels = new LinkedHashMap<>();
    var pointLabels = point.getLabels();
    for (int i = 0; i < pointLabels.size(); i++) {
      labels.put(pointLabels.getPrometheusName(i), pointLabels.getValue(i));
    }
    labels.putAll(extra);
    metrics.add(Metric.newBuilder().setName(name).putAllLabels(labels).setValue(value).build());
  }
}

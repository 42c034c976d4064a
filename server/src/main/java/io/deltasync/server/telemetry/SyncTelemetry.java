package io.deltasync.server.telemetry;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.rpc.ErrorInfo;
import io.deltasync.v1.Change;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import org.slf4j.MDC;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The server's own meters and spans, in one place so that every figure has one name and one meaning
 * (docs/operations.md, "Metrics" and "Tracing"). Hooks elsewhere are one call each: the push path hands its results
 * here, the live feed its dispatched pages, a stream's queue each message it sends, the sessions their start and end.
 *
 * <p>Commit times are the change's {@code last_modified_at}, taken in the writing transaction just before it commits:
 * lags measured from it include the rest of that transaction, which is short.
 */
public final class SyncTelemetry {
  private static final Duration[] LATENCY_BUCKETS = {
      Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
      Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
      Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30)};

  private final MeterRegistry registry;
  private final Tracer tracer;
  private final Counter replayed;
  private final Counter fallbacks;
  private final DistributionSummary batchSize;
  private final Timer dispatchLag;
  private final Timer fanOut;
  // Looked up once per phase, not once per message sent (a live page to a thousand streams is a thousand sends).
  private final java.util.Map<SyncPhase, Counter> changesSent = new java.util.concurrent.ConcurrentHashMap<>();
  // Likewise once per transport and per status, not once per push and per delta: a registry lookup builds its tags,
  // and a timer's builder its histogram settings, every time (a B=50 profile, docs/performance.md "Sixth part").
  private final java.util.Map<String, Timer> pushTimers = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.Map<DeltaStatus, Counter> deltas = new java.util.concurrent.ConcurrentHashMap<>();

  /** Meters registered in {@code registry}, spans started with {@code tracer}. */
  public SyncTelemetry(MeterRegistry registry, Tracer tracer) {
    this.registry = registry;
    this.tracer = tracer;
    this.replayed = Counter.builder("deltasync.deltas.replayed")
        .description("Deltas answered with the stored result of an earlier attempt (retries)").register(registry);
    this.fallbacks = Counter.builder("deltasync.stream.fallbacks")
        .description("Times a stream left live delivery to catch up because its client read too slowly")
        .register(registry);
    this.batchSize = DistributionSummary.builder("deltasync.push.batch.deltas")
        .description("Deltas per push batch").serviceLevelObjectives(1, 10, 50, 100, 500, 1_000)
        .register(registry);
    this.dispatchLag = latency("deltasync.changefeed.dispatch.lag",
        "Commit to dispatch by the live reader, per change");
    // Once per message (its oldest change: a message's changes are in commit order), not once per change: at a
    // thousand streams the histogram was about 5 % of the server's samples (docs/performance.md, "Sixth pass").
    this.fanOut = latency("deltasync.fanout.latency",
        "Commit to send on a live stream, per message and stream: the message's oldest change");
    // Registered up front, so that the first push pays no registration between its commit and its results (a stream
    // suppresses its own change only once it holds the result), and the series exist from the first scrape.
    for (String transport : List.of("unary", "stream")) {
      pushTimer(transport);
    }
    for (DeltaStatus status : List.of(DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_CONFLICT,
        DeltaStatus.DELTA_STATUS_REJECTED)) {
      deltas.put(status, registry.counter("deltasync.deltas", "status", name(status.name(), "DELTA_STATUS_")));
    }
  }

  /**
   * Creates the counters of changes sent, one per phase, now rather than at the first message of each phase: the
   * first live page after a start would otherwise register its counter on a fan-out thread while every stream waits
   * for that page (DELTASYNC_WARMUP_METERS).
   */
  public void preregisterPhases() {
    for (SyncPhase phase : List.of(SyncPhase.SYNC_PHASE_INITIAL_STATE, SyncPhase.SYNC_PHASE_CATCH_UP,
        SyncPhase.SYNC_PHASE_LIVE)) {
      changesSent(phase);
    }
  }

  private Timer pushTimer(String transport) {
    return pushTimers.computeIfAbsent(transport, t -> Timer.builder("deltasync.push.duration").description("Push batches, from receipt to results")
        .serviceLevelObjectives(LATENCY_BUCKETS).tag("transport", t).register(registry));
  }

  /** Meters and spans that go nowhere, for parts built without a server (tests). */
  public static SyncTelemetry disabled() {
    return new SyncTelemetry(new CompositeMeterRegistry(), OpenTelemetry.noop().getTracer("deltasync"));
  }

  /** The registry the meters are in. */
  public MeterRegistry registry() {
    return registry;
  }

  private Timer latency(String name, String description) {
    return Timer.builder(name).description(description).serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
  }

  /**
   * Runs one push batch in a span ({@code deltasync.push}) and counts what its results say. The one place both the
   * unary Push and the stream's push go through, so each delta is counted once whichever way it came. While it runs,
   * the span's trace and span ids are in the logging MDC ({@code trace_id}, {@code span_id}).
   *
   * <p>The write path's stages are child spans of this one (WriteService#traceWith): they start while this span is
   * current.
   *
   * @param transport {@code unary} or {@code stream}
   */
  public List<DeltaResult> push(String transport, String clientId, int deltas, Supplier<List<DeltaResult>> push) {
    long start = System.nanoTime();
    Span span = tracer.spanBuilder("deltasync.push")
        .setAttribute("deltasync.transport", transport)
        .setAttribute("deltasync.client_id", clientId)
        .setAttribute("deltasync.push.deltas", deltas)
        .startSpan();
    List<DeltaResult> results;
    try (Scope scope = span.makeCurrent(); MdcTrace trace = MdcTrace.of(span)) {
      results = push.get();
      long applied = results.stream().filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED).count();
      long conflicts = results.stream().filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_CONFLICT).count();
      span.setAttribute("deltasync.push.applied", applied);
      span.setAttribute("deltasync.push.conflicts", conflicts);
      span.setAttribute("deltasync.push.rejected", results.size() - applied - conflicts);
    } catch (RuntimeException | Error e) {
      span.recordException(e);
      span.setStatus(StatusCode.ERROR);
      throw e;
    } finally {
      span.end();
      pushTimer(transport).record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      batchSize.record(deltas);
    }
    results.forEach(this::count);
    return results;
  }

  /** A Sync stream opened: its span ({@code deltasync.sync}) lasts until {@link #sessionEnded}. */
  public Span sessionStarted() {
    return tracer.spanBuilder("deltasync.sync").startSpan();
  }

  /** A Sync stream ended: closes its span with what it did. */
  public void sessionEnded(Span span, String clientId, String lastPhase, long fallbacks) {
    span.setAttribute("deltasync.client_id", clientId);
    span.setAttribute("deltasync.sync.last_phase", lastPhase);
    span.setAttribute("deltasync.sync.fallbacks", fallbacks);
    span.end();
  }

  /** The span's ids in the logging MDC, for as long as it is open (nothing when tracing is off). */
  private record MdcTrace(boolean set) implements AutoCloseable {
    static MdcTrace of(Span span) {
      if (!span.getSpanContext().isValid()) {
        return new MdcTrace(false);
      }
      MDC.put("trace_id", span.getSpanContext().getTraceId());
      MDC.put("span_id", span.getSpanContext().getSpanId());
      return new MdcTrace(true);
    }

    @Override
    public void close() {
      if (set) {
        MDC.remove("trace_id");
        MDC.remove("span_id");
      }
    }
  }

  private void count(DeltaResult result) {
    if (result.getReplayed()) {
      replayed.increment();
      return;
    }
    deltas.computeIfAbsent(result.getStatus(),
        status -> registry.counter("deltasync.deltas", "status", name(status.name(), "DELTA_STATUS_"))).increment();
    if (result.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED) {
      registry.counter("deltasync.deltas.rejected", "reason", reason(result)).increment();
    }
    if (result.hasResolution() || result.getStatus() == DeltaStatus.DELTA_STATUS_CONFLICT) {
      registry.counter("deltasync.conflicts",
          "policy", name(result.getResolution().getPolicy().name(), "CONFLICT_POLICY_"),
          "outcome", name(result.getResolution().getOutcome().name(), "RESOLUTION_OUTCOME_")).increment();
    }
  }

  private static String reason(DeltaResult result) {
    for (var detail : result.getError().getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        try {
          return detail.unpack(ErrorInfo.class).getReason().toLowerCase(Locale.ROOT);
        } catch (InvalidProtocolBufferException e) {
          break;
        }
      }
    }
    return "unspecified";
  }

  private static String name(String enumName, String prefix) {
    return (enumName.startsWith(prefix) ? enumName.substring(prefix.length()) : enumName).toLowerCase(Locale.ROOT);
  }

  /** The live reader dispatched these changes to the node's streams. */
  public void dispatched(List<Change> changes) {
    long now = nowMicros();
    for (Change change : changes) {
      dispatchLag.record(Math.max(0, now - micros(change.getEntity().getLastModifiedAt())), TimeUnit.MICROSECONDS);
    }
  }

  /** A stream sent this message to its client. */
  public void sent(SyncResponse message) {
    if (!message.hasChanges() || message.getChanges().getChangesCount() == 0) {
      return;
    }
    SyncPhase phase = message.getChanges().getPhase();
    changesSent(phase).increment(message.getChanges().getChangesCount());
    if (phase == SyncPhase.SYNC_PHASE_LIVE) {
      Change oldest = message.getChanges().getChanges(0);
      fanOut.record(Math.max(0, nowMicros() - micros(oldest.getEntity().getLastModifiedAt())), TimeUnit.MICROSECONDS);
    }
  }

  private Counter changesSent(SyncPhase phase) {
    return changesSent.computeIfAbsent(phase, p -> registry.counter("deltasync.stream.changes.sent", "phase",
        name(p.name(), "SYNC_PHASE_")));
  }

  /** A stream fell back from live delivery to catch-up. */
  public void fellBack() {
    fallbacks.increment();
  }

  /** Registers a gauge read at each scrape. */
  public <T> void gauge(String name, String description, T source, ToDoubleFunction<T> value, String... tags) {
    Gauge.builder(name, source, value).description(description).tags(tags).strongReference(true).register(registry);
  }

  /** Registers a counter whose value is kept elsewhere (monotonic). */
  public <T> void functionCounter(String name, String description, T source, ToDoubleFunction<T> value) {
    FunctionCounter.builder(name, source, value).description(description).register(registry);
  }

  private static long nowMicros() {
    java.time.Instant now = java.time.Instant.now();
    return now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000;
  }

  private static long micros(Timestamp at) {
    return at.getSeconds() * 1_000_000 + at.getNanos() / 1_000;
  }
}

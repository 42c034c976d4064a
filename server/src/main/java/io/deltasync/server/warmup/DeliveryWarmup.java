package io.deltasync.server.warmup;

import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.deltasync.server.ScaleConfig;
import io.deltasync.server.auth.AuthInterceptor;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.auth.Authenticator;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.Position;
import io.deltasync.server.telemetry.LogContextInterceptor;
import io.deltasync.server.telemetry.SyncTelemetry;
import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.binder.grpc.MetricCollectingServerInterceptor;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warms live delivery before health answers SERVING, so that the first round of live traffic after a start is not
 * delivered by code the JIT has not compiled yet (the first round's stall lined up with C2 compiling
 * {@code deliverLivePage}, gRPC's framing and Netty's write path: docs/performance.md, "Fifth pass: catch-up and the
 * first round").
 *
 * <p>It serves the server's own Sync service (the same service definition, shared serialization included, with the
 * same interceptor classes: authentication, gRPC metrics, the logging context) on a Netty port of its own on
 * loopback, opens {@link ScaleConfig#deliveryWarmupStreams} Sync streams to it over a few Netty connections (as
 * clients do), and hands them synthetic live pages through a {@link LiveFeed#detached} feed: the fan-out threads,
 * the hand-off, own-change checks, byte budgets, the outbound queue, the message shared by streams, {@code onNext}
 * and the transport run as for real pages. What it leaves nothing of:
 * <ul>
 *   <li>no table is written: the streams' hellos read the empty scope {@link #SCOPE} and the pages never touch the
 *       database;
 *   <li>no client can join it unnoticed: the port is on loopback and open only while the warm-up runs; with
 *       authentication on, every call must carry a token signed with a random key that lives in this method only
 *       (DELTASYNC_WARMUP_DELIVERY_AUTH=token makes it so without, too); without authentication the port admits
 *       what the main port admits, as anyone on loopback could reach the main port anyway;
 *   <li>no metric clients see: its sessions count into a registry of their own, and so does its gRPC interceptor;
 *       the real sessions, live feed and admission never see its streams.
 * </ul>
 * Bounded by {@link ScaleConfig#deliveryWarmup}; a failure only leaves the code colder (it is logged, never thrown).
 */
public final class DeliveryWarmup {
  private static final Logger log = LoggerFactory.getLogger(DeliveryWarmup.class);
  /** The scope the warm-up's streams subscribe to; nothing is ever written to it. */
  public static final String SCOPE = Warmup.SCOPE;
  static final String ENTITY_TYPE = "warmup";
  /** A type the warm-up's streams do not subscribe to. */
  static final String FOREIGN_TYPE = "warmup-other";
  /**
   * Streams per shared Netty connection. Half the streams have a connection of their own, as devices do (the HTTP/2
   * stream map's lookups then take other branches: a warm-up with 8 streams on every connection left traps in
   * Netty's decoder and encoder that the first round's one-stream connections tripped, docs/performance.md "Eighth
   * pass: the first round"), the other half share connections 8 at a time, as browser tabs or proxies do.
   */
  private static final int STREAMS_PER_CONNECTION = 8;
  /** Pages handed to the streams that they have not all received yet, at most. */
  private static final int PAGES_IN_FLIGHT = 16;
  /** The most changes in one synthetic page (the page sizes cycle from 1 to this). */
  private static final int MAX_PAGE_CHANGES = 6;
  /**
   * How long the JIT must stay nearly idle (its compilers busy less than a tenth of it) for the warm-up to end before
   * its time bound: the delivery path's C2 compilations have landed by then.
   */
  private static final Duration QUIET_WINDOW = Duration.ofSeconds(1);
  /** The fewest pages before the warm-up may end early (so that the delivery path has reached C2's thresholds). */
  private static final int MIN_PAGES = 1_000;
  private static final Duration SET_UP_LIMIT = Duration.ofSeconds(30);
  /**
   * The Sync method as the warm-up's client calls it: responses are read off the wire and dropped unparsed (the
   * client's own cost is not what needs warming, and it shares the machine with the server's).
   */
  private static final MethodDescriptor<SyncRequest, Object> RECEIVE_ONLY = SyncServiceGrpc.getSyncMethod()
      .toBuilder(SyncServiceGrpc.getSyncMethod().getRequestMarshaller(), new MethodDescriptor.Marshaller<Object>() {
        @Override
        public InputStream stream(Object value) {
          throw new UnsupportedOperationException("the warm-up sends no responses");
        }

        @Override
        public Object parse(InputStream stream) {
          try (stream) {
            stream.transferTo(OutputStream.nullOutputStream());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
          return Boolean.TRUE;
        }
      }).build();
  private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization",
      Metadata.ASCII_STRING_MARSHALLER);

  /** Builds the server's Sync service over sessions of its own. */
  @FunctionalInterface
  public interface SyncServices {
    /**
     * The Sync service as the server serves it (shared serialization, lenient parsing), over new sessions that join
     * {@code feed}, count into {@code telemetry} and verify refreshed tokens with {@code authenticator}.
     */
    Bound bind(LiveFeed feed, SyncTelemetry telemetry, Authenticator authenticator);
  }

  /**
   * The warm-up's service and what to close after it.
   *
   * @param service the Sync service definition
   * @param sessions its sessions, closed when the warm-up ends
   */
  public record Bound(ServerServiceDefinition service, AutoCloseable sessions) {}

  /**
   * What the warm-up did.
   *
   * @param streams the streams that went live
   * @param pages the synthetic pages handed to them
   * @param received the messages the streams received (each stream's welcome and switch to live included)
   * @param elapsed how long it took, set-up included
   * @param failure why it stopped early, or empty
   * @param anonymous whether its streams were anonymous (as the server's clients are under DELTASYNC_AUTH=none)
   */
  public record Result(int streams, long pages, long received, Duration elapsed, String failure, boolean anonymous) {
    /** Nothing was run. */
    public static final Result NONE = new Result(0, 0, 0, Duration.ZERO, "", false);
  }

  private DeliveryWarmup() {}

  /**
   * Runs the warm-up as configured; never throws.
   *
   * @param frontier where the detached feed starts: what is visible in the change log now (the streams' hellos
   *     reach at least this)
   * @param fanOutThreads the live feed's fan-out threads (DELTASYNC_FANOUT_THREADS)
   * @param executor the executor calls run on (the server's)
   * @param maxMessageBytes the largest message the server accepts
   */
  public static Result run(ScaleConfig config, Position frontier, int fanOutThreads, Executor executor,
      int maxMessageBytes, SyncServices services) {
    return run(config, frontier, fanOutThreads, executor, maxMessageBytes, false, services);
  }

  /**
   * As above; with {@code anonymous} the warm-up's streams carry no token and its port authenticates nobody, as a
   * server with DELTASYNC_AUTH=none serves its clients (only then: such a server serves loopback only, and so does
   * this port). Its streams then run on the server call classes real anonymous streams run on: the authentication
   * interceptor wraps a counted (authenticated) stream's call in a class of its own, and a warm-up whose calls were
   * all of that class left a {@code class_check} trap in the delivery path that the first real anonymous stream
   * tripped (docs/performance.md, "Eighth pass: the first round").
   */
  public static Result run(ScaleConfig config, Position frontier, int fanOutThreads, Executor executor,
      int maxMessageBytes, boolean anonymous, SyncServices services) {
    if (config.deliveryWarmup().isZero()) {
      return Result.NONE;
    }
    long start = System.nanoTime();
    long deadline = start + config.deliveryWarmup().toNanos();
    Run run = new Run(config.deliveryWarmupStreams());
    String failure = "";
    LiveFeed feed = LiveFeed.detached(null, frontier, fanOutThreads);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    SyncTelemetry telemetry = new SyncTelemetry(registry, OpenTelemetry.noop().getTracer("deltasync-warmup"));
    feed.observe(telemetry);
    Bound bound = null;
    Server server = null;
    List<ManagedChannel> channels = new ArrayList<>();
    try {
      byte[] secret = new byte[32];
      new SecureRandom().nextBytes(secret);
      Authenticator authenticator = Authenticator.create(anonymous
          ? AuthSettings.from(Map.of("DELTASYNC_AUTH", "none", "DELTASYNC_REFLECTION", "off"))
          : AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_MAX_STREAMS_PER_PRINCIPAL", "100000",
              "DELTASYNC_REFLECTION", "off")).withHs256Secret(secret), Clock.systemUTC());
      bound = services.bind(feed, telemetry, authenticator);
      // The production interceptors, in the production order, over the warm-up's own authenticator and registry.
      server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
              InsecureServerCredentials.create())
          .executor(executor)
          .maxInboundMessageSize(maxMessageBytes)
          .intercept(new AuthInterceptor(authenticator))
          .intercept(new MetricCollectingServerInterceptor(registry))
          .intercept(new LogContextInterceptor())
          .addService(bound.service())
          .build()
          .start();
      String token = token(secret);
      int alone = run.streams / 2;
      int connections = alone + (run.streams - alone + STREAMS_PER_CONNECTION - 1) / STREAMS_PER_CONNECTION;
      for (int c = 0; c < connections; c++) {
        channels.add(NettyChannelBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                server.getPort()), InsecureChannelCredentials.create())
            .maxInboundMessageSize(maxMessageBytes).build());
      }
      Metadata headers = new Metadata();
      if (!anonymous) {
        headers.put(AUTHORIZATION, "Bearer " + token);
      }
      for (int i = 0; i < run.streams; i++) {
        int connection = i < alone ? i : alone + (i - alone) / STREAMS_PER_CONNECTION;
        run.open(ClientInterceptors.intercept(channels.get(connection),
            MetadataUtils.newAttachHeadersInterceptor(headers)), i);
      }
      long setUpEnd = System.nanoTime() + Math.min(SET_UP_LIMIT.toNanos(), Math.max(0, deadline - System.nanoTime()));
      // A stream is live once it has joined the feed (the hello read its empty scope).
      while (feed.subscribers() < run.streams && System.nanoTime() - setUpEnd < 0 && run.failure.isEmpty()) {
        Thread.sleep(5);
      }
      run.live = feed.subscribers();
      run.setUpNanos = System.nanoTime() - start;
      if (run.live < run.streams) {
        failure = run.failure.isEmpty() ? (run.streams - run.live) + " of " + run.streams
            + " streams did not go live in time" : run.failure;
      } else {
        failure = run.deliver(feed, frontier, deadline);
      }
    } catch (Throwable e) {
      failure = e.toString();
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
    } finally {
      run.cancelAll();
      channels.forEach(ManagedChannel::shutdownNow);
      if (server != null) {
        server.shutdownNow();
      }
      if (bound != null) {
        try {
          bound.sessions().close();
        } catch (Exception e) {
          log.debug("Closing the warm-up's sessions: {}", e.toString());
        }
      }
      feed.close();
      try {
        for (ManagedChannel channel : channels) {
          channel.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
          server.awaitTermination(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      registry.close();
    }
    Result result = new Result(run.live, run.pages, run.received.get(),
        Duration.ofNanos(System.nanoTime() - start), failure, anonymous);
    if (failure.isEmpty()) {
      log.info("Delivery warm-up: {} live pages to {} {} loopback streams ({} messages) in {} ms ({} ms to go live); "
          + "{}", result.pages(), result.streams(), anonymous ? "anonymous" : "authenticated", result.received(),
          result.elapsed().toMillis(),
          TimeUnit.NANOSECONDS.toMillis(run.setUpNanos), run.jitQuiet ? "the JIT has caught up"
              : "stopped by DELTASYNC_WARMUP_DELIVERY_MILLIS");
    } else {
      log.warn("Delivery warm-up stopped after {} pages to {} streams in {} ms: {}", result.pages(), result.streams(),
          result.elapsed().toMillis(), failure);
    }
    return result;
  }

  /** A token for the warm-up's streams: reader of its scope only, valid for the set-up limit past the warm-up. */
  private static String token(byte[] secret) throws JOSEException {
    Instant now = Instant.now();
    JWTClaimsSet claims = new JWTClaimsSet.Builder().subject("deltasync-warmup").issueTime(Date.from(now))
        .expirationTime(Date.from(now.plus(Duration.ofHours(1)))).claim("scopes", List.of(SCOPE))
        .claim("roles", List.of("reader")).build();
    SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
    jwt.sign(new MACSigner(secret));
    return jwt.serialize();
  }

  /** The warm-up's streams and what they received. */
  private static final class Run {
    final int streams;
    int live;
    boolean jitQuiet;
    long setUpNanos;
    // Every message counts (the welcome, the switch to live, heartbeats too): it only paces the pages.
    final AtomicLong received = new AtomicLong();
    final List<ClientCallStreamObserver<SyncRequest>> calls = new ArrayList<>();
    final Object progress = new Object();
    volatile String failure = "";
    long pages;
    // Messages the pages handed out so far should reach the streams with (a page of another type's change only
    // reaches the streams subscribed to the whole scope).
    long expected;

    Run(int streams) {
      this.streams = streams;
    }

    void open(io.grpc.Channel channel, int index) {
      ClientCall<SyncRequest, Object> call = channel.newCall(RECEIVE_ONLY, CallOptions.DEFAULT);
      StreamObserver<SyncRequest> requests = ClientCalls.asyncBidiStreamingCall(call,
          new ClientResponseObserver<SyncRequest, Object>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<SyncRequest> requests) {
              synchronized (calls) {
                calls.add(requests);
              }
            }

            @Override
            public void onNext(Object response) {
              received.incrementAndGet();
              synchronized (progress) {
                progress.notifyAll();
              }
            }

            @Override
            public void onError(Throwable t) {
              stopped("a stream ended: " + t);
            }

            @Override
            public void onCompleted() {
              stopped("a stream was completed by the server");
            }
          });
      // Half subscribe to a type in the scope, half to the whole scope (as many clients do): both branches of the
      // filter's type check are then in the profile (typed subscriptions only left an unstable_if trap in
      // ChangeFilter.matches that the first real scope-only stream tripped: docs/performance.md, "Eighth pass").
      Subscription.Builder subscription = Subscription.newBuilder().addScopes(SCOPE);
      if (index % 2 == 0) {
        subscription.setEntityType(ENTITY_TYPE);
      }
      requests.onNext(SyncRequest.newBuilder().setHello(SyncHello.newBuilder().setClientId("deltasync-warmup-" + index)
          .addSubscriptions(subscription)).build());
    }

    private void stopped(String why) {
      if (failure.isEmpty()) {
        failure = why;
      }
      synchronized (progress) {
        progress.notifyAll();
      }
    }

    /** Hands synthetic pages to the streams until the deadline, a few pages ahead of what they have received. */
    String deliver(LiveFeed feed, Position frontier, long deadline) throws InterruptedException {
      CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
      boolean watchJit = jit != null && jit.isCompilationTimeMonitoringSupported();
      long windowStart = System.nanoTime();
      long jitAtWindowStart = watchJit ? jit.getTotalCompilationTime() : 0;
      Position from = frontier;
      // Positions past any real one: a stream's frontier only moves on, and these never reach the database.
      long txId = Long.MAX_VALUE / 2;
      long changeId = 0;
      while (System.nanoTime() - deadline < 0 && failure.isEmpty()) {
        synchronized (progress) {
          while (expected - (long) PAGES_IN_FLIGHT * streams > received.get() && failure.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
              return failure;
            }
            TimeUnit.NANOSECONDS.timedWait(progress, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
          }
        }
        int size = 1 + (int) (pages % MAX_PAGE_CHANGES);
        // Real pages often hold changes a stream does not subscribe to, or none for it at all: every eighth page
        // holds only a change of another type, and pages of four or more end with one, so that those branches are
        // in the profile C2 compiles (a branch never taken is compiled as a trap, which deoptimizes the method
        // when real traffic first takes it: docs/performance.md, "Sixth pass").
        boolean foreignOnly = pages % 8 == 7;
        List<ChangePage.Positioned> entries = new ArrayList<>(size);
        Instant now = Instant.now();
        for (int i = 0; i < size; i++) {
          Position position = new Position(txId, ++changeId);
          boolean foreign = foreignOnly || (size >= 4 && i == size - 1);
          entries.add(new ChangePage.Positioned(position, change(changeId, position, now,
              foreign ? FOREIGN_TYPE : ENTITY_TYPE)));
        }
        Position to = entries.getLast().position();
        LiveFeed.Page page = new LiveFeed.Page(from, to, List.copyOf(entries), Cursor.at(0, to, changeId).encode());
        feed.publish(page);
        if (pages % 16 == 15) {
          // The same page again: every stream already has it. Real streams get such pages when they join (their own
          // reads went past pages the feed hands them after the join); a warm-up without them left an unstable_if
          // trap in deliverLivePage that the first round's joins tripped (docs/performance.md, "Eighth pass").
          feed.publish(new LiveFeed.Page(page.from(), page.to(), page.entries(), page.toCursor()));
        }
        from = to;
        pages++;
        expected += foreignOnly ? streams / 2 : streams;
        long at = System.nanoTime();
        if (watchJit && at - windowStart >= QUIET_WINDOW.toNanos()) {
          // Done once the JIT has caught up: its compilers were busy less than a tenth of the last window.
          long busyMillis = jit.getTotalCompilationTime() - jitAtWindowStart;
          if (pages >= MIN_PAGES && busyMillis * 10 < TimeUnit.NANOSECONDS.toMillis(at - windowStart)) {
            jitQuiet = true;
            break;
          }
          windowStart = at;
          jitAtWindowStart = jit.getTotalCompilationTime();
        }
      }
      return failure;
    }

    void cancelAll() {
      synchronized (calls) {
        for (ClientCallStreamObserver<SyncRequest> call : calls) {
          try {
            call.cancel("the warm-up is over", null);
          } catch (RuntimeException ignored) {
            // already ended
          }
        }
      }
    }
  }

  /** A change as the live feed hands it out: a small document, its cursor set. */
  private static Change change(long id, Position position, Instant now, String type) {
    Struct data = Struct.newBuilder()
        .putFields("title", Value.newBuilder().setStringValue("warm-up change " + id).build())
        .putFields("done", Value.newBuilder().setBoolValue(id % 2 == 0).build())
        .putFields("n", Value.newBuilder().setNumberValue(id).build())
        .build();
    return Change.newBuilder()
        .setEntity(Entity.newBuilder().setScope(SCOPE).setEntityType(type).setEntityId("w-" + id % 64)
            .setRowVersion(id).setData(data)
            .setLastModifiedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano())))
        .setClientId("deltasync-warmup-writer").setDeltaId("warmup-" + id)
        .setCursor(Cursor.at(0, position, id).encode())
        .build();
  }
}

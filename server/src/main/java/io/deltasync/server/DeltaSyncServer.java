package io.deltasync.server;

import com.google.rpc.ErrorDetailsProto;
import io.deltasync.server.auth.AuthInterceptor;
import io.deltasync.server.auth.AuthSettings;
import io.deltasync.server.auth.Authenticator;
import io.deltasync.server.auth.DevelopmentKey;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.conflict.ConflictPolicies;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.database.Database;
import io.deltasync.server.telemetry.ServerTelemetry;
import io.deltasync.server.telemetry.SyncTelemetry;
import io.deltasync.server.telemetry.LogContextInterceptor;
import io.deltasync.server.telemetry.Tracing;
import io.deltasync.server.ops.Cleanup;
import io.deltasync.server.ops.CleanupSchedule;
import io.deltasync.server.ops.HealthReporter;
import io.deltasync.server.ops.StatusReport;
import io.deltasync.server.ops.ReflectedFiles;
import io.deltasync.server.rpc.AdminServiceImpl;
import io.deltasync.server.rpc.RequestParsing;
import io.deltasync.server.rpc.SyncServiceImpl;
import io.deltasync.server.rpc.UnaryCallExecutor;
import io.deltasync.server.store.CleanupStore;
import io.deltasync.server.store.ConflictQueue;
import io.deltasync.server.store.StatusQueries;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.stream.SessionSettings;
import io.deltasync.server.stream.SyncSessions;
import io.deltasync.server.warmup.DeliveryWarmup;
import io.deltasync.server.warmup.Warmup;
import io.deltasync.server.write.ManualResolution;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.ErrorsProto;
import io.deltasync.server.web.WebServer;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A running deltasync server: the database, the services, and the gRPC server they are bound to. */
public final class DeltaSyncServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeltaSyncServer.class);
  private static final Duration HEALTH_CHECK_PERIOD = Duration.ofSeconds(5);
  // The live reader completes a read at least once per poll interval (at most 60 s) while the database answers;
  // longer than this without one, the node cannot deliver and reports NOT_SERVING.
  private static final Duration FEED_STALL_LIMIT = Duration.ofSeconds(90);

  private final ServerConfig config;
  private final Database database;
  private final HealthReporter health;
  private final ExecutorService callExecutor;
  private final UnaryCallExecutor unaryExecutor;  // null when DELTASYNC_UNARY_THREADS is 0
  private final LiveFeed liveFeed;
  private final SyncSessions sessions;
  private final SyncStore store;
  private final Server server;
  private final ServerTelemetry telemetry;
  private final CleanupSchedule cleanupSchedule;
  private final Optional<WebServer> web;
  private boolean closed;
  private Warmup.Result warmup = Warmup.Result.NONE;
  private DeliveryWarmup.Result deliveryWarmup = DeliveryWarmup.Result.NONE;

  private DeltaSyncServer(ServerConfig config, Database database, HealthReporter health, ExecutorService executor,
      UnaryCallExecutor unaryExecutor, LiveFeed liveFeed, SyncSessions sessions, SyncStore store, Server server, ServerTelemetry telemetry,
      CleanupSchedule cleanupSchedule, Optional<WebServer> web) {
    this.web = web;
    this.config = config;
    this.database = database;
    this.health = health;
    this.callExecutor = executor;
    this.unaryExecutor = unaryExecutor;
    this.liveFeed = liveFeed;
    this.sessions = sessions;
    this.store = store;
    this.server = server;
    this.telemetry = telemetry;
    this.cleanupSchedule = cleanupSchedule;
  }

  /** Opens the configured database and serves on Netty at the configured host and port. */
  public static DeltaSyncServer start(ServerConfig config) throws IOException {
    checkExposure(config);
    Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize(), config.statementTimeout()));
    try {
      boolean embedded = config.databaseUrl().isEmpty();
      AuthSettings auth = config.auth().withMode(config.auth().effectiveMode(embedded));
      if (config.auth().usesDevelopmentKey(embedded)) {
        // Created once the data directory exists (initdb wants it empty); kept with the data.
        auth = auth.withHs256Secret(DevelopmentKey.loadOrCreate(config.dataDirectory()));
        log.warn("Tokens are verified with the development key {} (./deltasync token signs them); configure "
            + "DELTASYNC_JWT_* for production (docs/security.md)", DevelopmentKey.file(config.dataDirectory()));
      }
      config = config.withAuth(auth);
      return start(config, database, netty(config));
    } catch (IOException | RuntimeException e) {
      database.close();
      throw e;
    }
  }

  /**
   * Serves on the given builder (Netty in production, in-process in some tests) over an open database; the
   * server takes ownership of the database and closes it on {@link #close()}.
   */
  public static DeltaSyncServer start(ServerConfig config, Database database, ServerBuilder<?> builder)
      throws IOException {
    return start(config, database, builder, Optional.empty());
  }

  /** As {@link #start(ServerConfig, Database, ServerBuilder)}, with spans going to {@code tracing} (tests). */
  public static DeltaSyncServer start(ServerConfig config, Database database, ServerBuilder<?> builder,
      Optional<Tracing> tracing) throws IOException {
    if (config.auth().mode() == AuthSettings.Mode.AUTO) {
      // Not resolved by start(ServerConfig): no development key here, so AUTO is TOKEN only if configured.
      config = config.withAuth(config.auth().withMode(config.auth().effectiveMode(false)));
    }
    Authenticator authenticator = Authenticator.create(config.auth(), Clock.systemUTC());
    SyncStore store = new SyncStore(database.dsl(), config.limits().maxMessageBytes());
    long epoch = store.ensureEpoch();
    HealthReporter health = new HealthReporter();
    OpsConfig ops = config.ops();
    ServerTelemetry telemetry = new ServerTelemetry(tracing.orElseGet(() -> Tracing.of(
        ops.otlpEndpoint(), ops.serviceName())));
    database.bindMetrics(telemetry.registry());
    // Blocking JDBC must never run on a Netty event loop: calls run on virtual threads, and the connection pool
    // (its size is DELTASYNC_DB_POOL_SIZE) bounds how many touch the database at once.
    ExecutorService executor = Executors.newThreadPerTaskExecutor(
        Thread.ofVirtual().name("deltasync-call-", 0).factory());
    ChangeFeed changeFeed = new ChangeFeed(store, epoch);
    SyncStore feedStore = new SyncStore(database.feedDsl(), config.limits().maxMessageBytes());
    LiveFeed liveFeed = new LiveFeed(changeFeed, feedStore, database::openDedicatedConnection,
        config.stream().feedPollInterval(), config.limits().pageSize(), config.fanOut().threads(),
        config.firstRound().feedConnections());
    // After each commit: wake this node's reader, and (coalesced) the other nodes'; never a NOTIFY in the write.
    ServerConfig settings = config;
    java.util.function.BiFunction<SyncStore, Runnable, WriteService> writeService = (on, committed) ->
        new WriteService(on, settings.limits().maxDeltaDataBytes(), settings.limits().maxEditsPerDelta(),
            new ConflictPolicies(settings.defaultConflictPolicy(), settings.conflicts().byEntityType(),
                settings.operationalTransformEnabled()),
            settings.conflicts().maxClockSkew(), Clock.systemUTC(), settings.limits().maxMessageBytes(), committed);
    WriteService writes = writeService.apply(store, liveFeed::committed);
    writes.traceWith(telemetry.tracer());
    AdmissionConfig admission = config.admission();
    var writeAdmission = new io.deltasync.server.admission.WriteAdmission(admission.entityStripes(),
        admission.entityWait(), admission.failFastWhileDatabaseDown() ? health::databaseUnreachable : () -> false);
    writes.admitWith(writeAdmission);
    telemetry.sync().gauge("deltasync.admission.waiting", "Pushes waiting for their entities' admission now",
        writeAdmission, io.deltasync.server.admission.WriteAdmission::waiting);
    liveFeed.observe(telemetry.sync());
    telemetry.sync().functionCounter("deltasync.changes.degraded",
        "Changes delivered degraded (documents left out)", liveFeed,
        feed -> store.degradedChanges() + feed.degradedChanges());
    // NaN without asking the pool while health knows the database is down: a scrape during an outage would otherwise
    // wait the pool's whole acquire timeout, and a monitoring system's scrape timeout is not much longer.
    telemetry.sync().gauge("deltasync.changefeed.watermark.age.seconds", "Seconds the oldest open transaction (which "
        + "holds back the change feed's watermark) has been open; 0 when none", store,
        s -> health.databaseUnreachable() ? Double.NaN : s.watermarkAgeSeconds());
    Cleanup cleanup = new Cleanup(new CleanupStore(database.dsl()), store, database::openDedicatedConnection,
        Cleanup.Retention.of(config.tombstoneRetention(), config.ops()), config.ops().cleanupBatchSize(),
        Clock.systemUTC(), telemetry.registry());
    SessionSettings sessionSettings = sessionSettings(config, telemetry.sync());
    SyncSessions sessions = new SyncSessions(sessionSettings, writes, changeFeed, liveFeed, authenticator);
    liveFeed.onHistoryReset(sessions::endAllForHistoryReset);
    sessions.admitHellosWith(new io.deltasync.server.admission.HelloAdmission(config.scale().helloConcurrency(),
        config.scale().helloWait()));
    // Interceptors run in the reverse order of adding: the logging context first, then metrics (every call,
    // refused ones too), then authentication and the method's permission (docs/security.md). The HTTP port wraps
    // the same services in the same list.
    List<ServerInterceptor> interceptors = List.of(new AuthInterceptor(authenticator), telemetry.grpcInterceptor(),
        new LogContextInterceptor());
    // Requests are parsed leniently: what cannot be parsed is answered, never an UNKNOWN end of the call.
    java.util.function.BiFunction<SyncSessions, SessionSettings, ServerServiceDefinition> syncService =
        (on, with) -> io.deltasync.server.wire.SharedResponses.install(RequestParsing.lenient(new SyncServiceImpl(
            writes, changeFeed, on,
            new ManualResolution(store, new ConflictQueue(database.dsl()), settings.limits().maxDeltaDataBytes(),
                settings.limits().pageSize(), settings.limits().maxMessageBytes(), liveFeed::committed),
            with, settings.limits(), new StatusReport(changeFeed, on, with,
                new StatusQueries(database.dsl()))).bindService()));
    List<ServerServiceDefinition> services = List.of(
        // Live pages shared by many streams are serialized once (wire.SharedResponses).
        syncService.apply(sessions, sessionSettings),
        // Reflection also serves the error catalogue and google.rpc's error details through this service's schema.
        ReflectedFiles.alongside(
            RequestParsing.lenient(new AdminServiceImpl(telemetry, cleanup).bindService()),
            ErrorsProto.getDescriptor(), ErrorDetailsProto.getDescriptor()));
    // The gRPC meters of every method exist before the first call (warmup.FirstRound).
    io.deltasync.server.warmup.FirstRound.createMeters(config.firstRound(), telemetry, services);
    builder.executor(executor);
    // Unary calls on reused platform threads (streams keep the virtual threads): rpc.UnaryCallExecutor.
    int unaryThreads = config.scale().unaryThreads(config.poolSize());
    UnaryCallExecutor unary = unaryThreads == 0 ? null : new UnaryCallExecutor(unaryThreads, executor);
    if (unary != null) {
      builder.callExecutor(unary);
    }
    interceptors.forEach(builder::intercept);
    builder.maxInboundMessageSize(config.limits().maxMessageBytes());
    services.forEach(builder::addService);
    builder.addService(health.service());
    if (config.auth().reflection() != AuthSettings.Reflection.OFF) {
      builder.addService(ProtoReflectionServiceV1.newInstance())
          // v1alpha too: grpcurl and many tools still ask for it first.
          .addService(ProtoReflectionService.newInstance());
    }
    Server server = builder.build();
    WebServer web = null;
    try {
      server.start();
      telemetry.serve(config.ops().metricsPort(), config.ops().metricsHost());
      if (config.web().port().isPresent()) {
        web = WebServer.start(config.web(), config.auth(), services, interceptors, config.limits().maxMessageBytes());
      }
    } catch (IOException | RuntimeException e) {
      if (web != null) {
        web.close();
      }
      server.shutdownNow();
      telemetry.close();
      sessions.close();
      liveFeed.close();
      executor.shutdownNow();
      if (unary != null) {
        unary.shutdown();
      }
      health.close();
      throw e;
    }
    // Before SERVING: the hot paths, run invisibly (rolled-back pushes of a write service of its own).
    Warmup.Result warmed = Warmup.run(config.scale(), writeService.apply(new SyncStore(database.dsl().configuration()
        .derive(Warmup.rollbackOnly(database.dataSource())).dsl(), config.limits().maxMessageBytes()), () -> { })::push,
        database.dsl(), changeFeed, config.limits().maxMessageBytes());
    // Before SERVING: live delivery, by streams of the server's own service over loopback (warmup.DeliveryWarmup).
    // Its streams are anonymous when the server's are (DELTASYNC_WARMUP_DELIVERY_AUTH): the same server call classes.
    boolean anonymousWarmup = config.auth().mode() == AuthSettings.Mode.NONE
        && config.firstRound().deliveryWarmupAuth() == FirstRoundConfig.DeliveryAuth.SERVER;
    DeliveryWarmup.Result deliveryWarmed = DeliveryWarmup.run(config.scale(), changeFeed.visible(), config.fanOut().threads(), executor,
        config.limits().maxMessageBytes(), anonymousWarmup, (feed, warmTelemetry, warmAuth) -> {
          SessionSettings warmSettings = sessionSettings(settings, warmTelemetry);
          // Its sessions read through connections that never commit: what a hello records (the client's grants,
          // when it was seen) is rolled back, so no row of the warm-up's clients is left.
          ChangeFeed warmChanges = new ChangeFeed(new SyncStore(database.dsl().configuration().derive(
              Warmup.rollbackOnly(database.dataSource())).dsl(), settings.limits().maxMessageBytes()), epoch);
          SyncSessions warmSessions = new SyncSessions(warmSettings, writes, warmChanges, feed, warmAuth);
          return new DeliveryWarmup.Bound(syncService.apply(warmSessions, warmSettings), warmSessions);
        });
    // Before SERVING: the live feed's LISTEN and NOTIFY connections are open (else the first commit opens one).
    io.deltasync.server.warmup.FirstRound.awaitFeedConnections(config.firstRound(), liveFeed);
    health.startChecking(database, () -> liveFeed.isHealthy(FEED_STALL_LIMIT), HEALTH_CHECK_PERIOD);
    DeltaSyncServer started = new DeltaSyncServer(config, database, health, executor, unary, liveFeed, sessions, store,
        server, telemetry, new CleanupSchedule(cleanup, config.ops().cleanupInterval()), Optional.ofNullable(web));
    started.warmup = warmed;
    started.deliveryWarmup = deliveryWarmed;
    return started;
  }

  /**
   * Refuses to serve anonymous access anywhere but on loopback, and says in the log how calls are authenticated.
   */
  private static void checkExposure(ServerConfig config) {
    boolean loopback;
    try {
      loopback = java.net.InetAddress.getByName(config.host()).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      throw new ConfigException("DELTASYNC_HOST: '" + config.host() + "' (expected: an address of this machine)");
    }
    AuthSettings.Tls tls = config.auth().tls();
    if (tls.enabled()) {
      log.info("Serving TLS with {}{}", tls.certFile().get(), tls.clientCaFile()
          .map(ca -> "; clients must present a certificate from " + ca).orElse(""));
    } else if (loopback) {
      log.info("Serving plaintext on loopback ({})", config.host());
    } else if (tls.allowPlaintext()) {
      log.warn("Serving plaintext on {} (DELTASYNC_ALLOW_PLAINTEXT=true): credentials cross the network in the clear "
          + "unless a proxy in front terminates TLS", config.host());
    } else {
      throw new ConfigException("DELTASYNC_HOST: '" + config.host() + "' without TLS (expected: "
          + "DELTASYNC_TLS_CERT_FILE and DELTASYNC_TLS_KEY_FILE, or DELTASYNC_ALLOW_PLAINTEXT=true behind a proxy "
          + "that terminates TLS; plaintext is only served on loopback by default)");
    }
    if (config.auth().effectiveMode(config.databaseUrl().isEmpty()) == AuthSettings.Mode.NONE) {
      if (!loopback) {
        throw new ConfigException("DELTASYNC_AUTH: 'none' (expected: token when listening on " + config.host()
            + "; anonymous access is only allowed on loopback, see docs/security.md)");
      }
      log.warn("Authentication is off (DELTASYNC_AUTH={}): every caller on this machine is anonymous with every "
          + "permission and scope; for local development only", config.auth().mode().name().toLowerCase(
              java.util.Locale.ROOT));
    } else {
      log.info("Authentication: {}", config.auth());
    }
  }

  /** What the Sync stream tells clients and how it buffers. */
  static SessionSettings sessionSettings(ServerConfig config, SyncTelemetry telemetry) {
    return new SessionSettings(config.limits().pageSize(), config.stream().maxQueuedChanges(),
        config.stream().heartbeatInterval(), limits(config), retryPolicy(config), config.stream().maxQueuedBytes(),
        config.stream().stallTimeout(), config.stream().maxStreamsPerClient(), telemetry,
        Math.min(config.streamPages().pageBytes(),
            io.deltasync.server.wire.MessageBudget.of(config.limits().maxMessageBytes())));
  }

  /** The limits as clients see them. */
  private static io.deltasync.v1.Limits limits(ServerConfig config) {
    return io.deltasync.v1.Limits.newBuilder()
        .setMaxDeltasPerPush(config.limits().maxDeltasPerPush())
        .setMaxDeltaDataBytes(config.limits().maxDeltaDataBytes())
        .setMaxPageSize(config.limits().pageSize())
        .setMaxMessageBytes(config.limits().maxMessageBytes())
        .setMaxEditsPerDelta(config.limits().maxEditsPerDelta())
        .build();
  }

  /** The retry advice as clients see it. */
  private static io.deltasync.v1.RetryPolicy retryPolicy(ServerConfig config) {
    ServerConfig.RetryPolicy retry = config.retryPolicy();
    return io.deltasync.v1.RetryPolicy.newBuilder()
        .setMaxRetries(retry.maxRetries())
        .setBaseDelay(duration(retry.baseDelay()))
        .setMaxDelay(duration(retry.maxDelay()))
        .setBackoffMultiplier(retry.multiplier())
        .build();
  }

  private static com.google.protobuf.Duration duration(Duration duration) {
    return com.google.protobuf.Duration.newBuilder().setSeconds(duration.getSeconds())
        .setNanos(duration.getNano()).build();
  }

  private static ServerBuilder<?> netty(ServerConfig config) throws IOException {
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port()),
            credentials(config.auth().tls()))
        // Detect dead mobile clients behind NATs well before the 2-hour default.
        .keepAliveTime(config.keepAliveTime().toSeconds(), TimeUnit.SECONDS)
        .keepAliveTimeout(config.keepAliveTimeout().toSeconds(), TimeUnit.SECONDS)
        // Clients may ping this often (even with no call open) without being sent GOAWAY "too_many_pings".
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        .maxConcurrentCallsPerConnection(config.stream().maxCallsPerConnection())
        .maxConnectionIdle(config.stream().maxConnectionIdle().toSeconds(), TimeUnit.SECONDS);
    if (!config.stream().maxConnectionAge().isZero()) {
      builder.maxConnectionAge(config.stream().maxConnectionAge().toSeconds(), TimeUnit.SECONDS)
          .maxConnectionAgeGrace(config.stream().maxConnectionAgeGrace().toSeconds(), TimeUnit.SECONDS);
    }
    return builder;
  }

  /** Plaintext, or TLS from the configured files (and client certificates required when a client CA is set). */
  private static io.grpc.ServerCredentials credentials(AuthSettings.Tls tls) throws IOException {
    if (!tls.enabled()) {
      return io.grpc.InsecureServerCredentials.create();
    }
    io.grpc.TlsServerCredentials.Builder builder = io.grpc.TlsServerCredentials.newBuilder()
        .keyManager(tls.certFile().get().toFile(), tls.keyFile().get().toFile());
    if (tls.clientCaFile().isPresent()) {
      builder.trustManager(tls.clientCaFile().get().toFile())
          .clientAuth(io.grpc.TlsServerCredentials.ClientAuth.REQUIRE);
    }
    return builder.build();
  }

  /** The port the server listens on (useful when configured with port 0). */
  public int port() {
    return server.getPort();
  }

  /** The HTTP port (gRPC-Web, HTTP/JSON, the console), if it is served (DELTASYNC_HTTP_PORT). */
  public java.util.OptionalInt httpPort() {
    return web.map(w -> java.util.OptionalInt.of(w.port())).orElse(java.util.OptionalInt.empty());
  }

  /** The port of the Prometheus endpoint, if it is served (DELTASYNC_METRICS_PORT). */
  public java.util.OptionalInt metricsPort() {
    return telemetry.port();
  }

  /** What the start-up warm-up did (DELTASYNC_WARMUP_*). */
  public Warmup.Result warmup() {
    return warmup;
  }

  /** What the start-up warm-up of live delivery did (DELTASYNC_WARMUP_DELIVERY_*). */
  public DeliveryWarmup.Result deliveryWarmup() {
    return deliveryWarmup;
  }

  /** The open Sync sessions. */
  public SyncSessions sessions() {
    return sessions;
  }

  /**
   * How many changes this server delivered degraded (documents left out because the row could not be converted or
   * did not fit in one message) since it started; each delivery counts (also deltasync_changes_degraded_total).
   */
  public long degradedChanges() {
    return store.degradedChanges() + liveFeed.degradedChanges();
  }

  /** The database the server runs on. */
  public Database database() {
    return database;
  }

  /** Blocks until the server has terminated. */
  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /**
   * Shuts down gracefully: health goes NOT_SERVING, new calls are refused, in-flight calls get the configured
   * grace period, the rest are cancelled; then the pool closes and the embedded PostgreSQL stops.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    health.close();
    // Load balancers learn NOT_SERVING only at their next health check: keep serving a moment so that they stop
    // routing here before streams are told to reconnect (else clients would reconnect to this node again).
    Duration drain = config.stream().shutdownDrain();
    if (!drain.isZero() && !sessions.stats().isEmpty()) {
      log.info("Draining for {} s before ending {} streams", drain.toSeconds(), sessions.stats().size());
      try {
        Thread.sleep(drain);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    // server.shutdown() lets streams run on forever: end them first, telling clients to reconnect elsewhere.
    sessions.close();
    web.ifPresent(WebServer::close);
    server.shutdown();
    try {
      if (!server.awaitTermination(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
        log.info("Cancelling calls still running after the {} s grace period", config.shutdownGrace().toSeconds());
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
    callExecutor.shutdownNow();
    if (unaryExecutor != null) {
      unaryExecutor.shutdown();
    }
    cleanupSchedule.close();
    liveFeed.close();
    telemetry.close();
    try {
      database.close();
    } catch (IOException e) {
      throw new UncheckedIOException("stopping the database", e);
    }
  }
}

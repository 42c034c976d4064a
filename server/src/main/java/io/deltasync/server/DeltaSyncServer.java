package io.deltasync.server;

import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.database.Database;
import io.deltasync.server.ops.HealthReporter;
import io.deltasync.server.rpc.AdminServiceImpl;
import io.deltasync.server.rpc.SyncServiceImpl;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.write.WriteService;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A running deltasync server: the database, the services, and the gRPC server they are bound to. */
public final class DeltaSyncServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeltaSyncServer.class);
  private static final Duration HEALTH_CHECK_PERIOD = Duration.ofSeconds(5);

  private final ServerConfig config;
  private final Database database;
  private final HealthReporter health;
  private final ExecutorService callExecutor;
  private final Server server;
  private boolean closed;

  private DeltaSyncServer(ServerConfig config, Database database, HealthReporter health, ExecutorService executor,
      Server server) {
    this.config = config;
    this.database = database;
    this.health = health;
    this.callExecutor = executor;
    this.server = server;
  }

  /** Opens the configured database and serves on Netty at the configured host and port. */
  public static DeltaSyncServer start(ServerConfig config) throws IOException {
    Database database = Database.open(new Database.Settings(config.databaseUrl(), config.databaseUser(),
        config.databasePassword(), config.dataDirectory(), config.poolSize()));
    try {
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
    SyncStore store = new SyncStore(database.dsl());
    long epoch = store.ensureEpoch();
    HealthReporter health = new HealthReporter();
    // Blocking JDBC must never run on a Netty event loop: calls run on virtual threads, and the connection pool
    // (its size is DELTASYNC_DB_POOL_SIZE) bounds how many touch the database at once.
    ExecutorService executor = Executors.newThreadPerTaskExecutor(
        Thread.ofVirtual().name("deltasync-call-", 0).factory());
    Server server = builder
        .executor(executor)
        .maxInboundMessageSize(config.limits().maxMessageBytes())
        .addService(new SyncServiceImpl(new WriteService(store, config.limits().maxDeltaDataBytes()),
            new ChangeFeed(store, epoch), config.limits()))
        .addService(new AdminServiceImpl())
        .addService(health.service())
        .addService(ProtoReflectionServiceV1.newInstance())
        // v1alpha too: grpcurl and many tools still ask for it first.
        .addService(ProtoReflectionService.newInstance())
        .build();
    try {
      server.start();
    } catch (IOException e) {
      executor.shutdownNow();
      health.close();
      throw e;
    }
    health.startChecking(database, HEALTH_CHECK_PERIOD);
    return new DeltaSyncServer(config, database, health, executor, server);
  }

  private static ServerBuilder<?> netty(ServerConfig config) {
    return NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port()))
        // Detect dead mobile clients behind NATs well before the 2-hour default.
        .keepAliveTime(config.keepAliveTime().toSeconds(), TimeUnit.SECONDS)
        .keepAliveTimeout(config.keepAliveTimeout().toSeconds(), TimeUnit.SECONDS)
        // Clients may ping this often (even with no call open) without being sent GOAWAY "too_many_pings".
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true);
  }

  /** The port the server listens on (useful when configured with port 0). */
  public int port() {
    return server.getPort();
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
    try {
      database.close();
    } catch (IOException e) {
      throw new UncheckedIOException("stopping the database", e);
    }
  }
}

package io.deltasync.server.testing;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.v1.AdminServiceGrpc;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real deltasync server on Netty at 127.0.0.1 (ephemeral port) over its own fresh database, for one test
 * class. Register it as a static field with {@code @RegisterExtension}.
 */
public final class DeltaSyncServerExtension implements BeforeAllCallback, AfterAllCallback {
  private final UnaryOperator<ServerConfig> customize;
  private TestPostgres.TestDatabase database;
  private DeltaSyncServer server;
  private ManagedChannel channel;

  /** A server with the default configuration. */
  public DeltaSyncServerExtension() {
    this(UnaryOperator.identity());
  }

  /** A server whose configuration the test adjusts (limits, for example). */
  public DeltaSyncServerExtension(UnaryOperator<ServerConfig> customize) {
    this.customize = customize;
  }

  /**
   * A server whose default conflict policy is {@code policy}: tests of the compare-and-set itself use
   * SERVER_WINS, so that every miss is reported instead of resolved.
   */
  public static DeltaSyncServerExtension withDefaultPolicy(io.deltasync.v1.ConflictPolicy policy) {
    return new DeltaSyncServerExtension(config -> config.withConflicts(policy, config.conflicts()));
  }

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    database = TestPostgres.newDatabase();
    // A short warm-up (off by default): its code runs in every test, without its time; the delivery warm-up (on by
    // default) short too (TestServerConfig): its streams and pages without its seconds.
    ServerConfig config = customize.apply(TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0",
        "DELTASYNC_WARMUP", "true", "DELTASYNC_WARMUP_ITERATIONS", "20"))
        .withPort(0)
        .withDatabase(database.url(), database.user(), database.password()));
    server = DeltaSyncServer.start(config);
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
  }

  @Override
  public void afterAll(ExtensionContext context) throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  /** A blocking stub of SyncService. */
  public SyncServiceGrpc.SyncServiceBlockingStub sync() {
    return SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** A blocking stub of AdminService. */
  public AdminServiceGrpc.AdminServiceBlockingStub admin() {
    return AdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** The channel to the server. */
  public ManagedChannel channel() {
    return channel;
  }

  /** The running server. */
  public DeltaSyncServer server() {
    return server;
  }

  /** The server's port. */
  public int port() {
    return server.port();
  }

  /** jOOQ over the test's own connections to the server's database (for plain-SQL writers and checks). */
  public DSLContext sql() {
    return DSL.using(database.dataSource(), SQLDialect.POSTGRES);
  }

  /** The database's connection details. */
  public TestPostgres.TestDatabase database() {
    return database;
  }
}

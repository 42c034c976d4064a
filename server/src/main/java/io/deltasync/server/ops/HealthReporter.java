package io.deltasync.server.ops;

import io.deltasync.server.database.Database;
import io.deltasync.v1.AdminServiceGrpc;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.BindableService;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@code grpc.health.v1.Health}: NOT_SERVING until the database is migrated and reachable, then follows
 * a periodic check of the database, and NOT_SERVING for good once shutdown begins (so load balancers drain us).
 */
public final class HealthReporter implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HealthReporter.class);
  private static final List<String> SERVICES = List.of("", SyncServiceGrpc.SERVICE_NAME,
      AdminServiceGrpc.SERVICE_NAME);

  private final HealthStatusManager health = new HealthStatusManager();
  private final ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("deltasync-health").daemon().factory());
  private volatile ServingStatus current = ServingStatus.NOT_SERVING;
  private volatile boolean databaseUnreachable;

  /** Creates the reporter, NOT_SERVING for every service. */
  public HealthReporter() {
    set(ServingStatus.NOT_SERVING);
  }

  /** The health service to register on the server. */
  public BindableService service() {
    return health.getHealthService();
  }

  /**
   * Reports SERVING now, then re-checks every {@code period} that the database answers (on the health check's own
   * connection) and that {@code feedHealthy} holds (the node's live change reader is alive and reading).
   */
  public void startChecking(Database database, BooleanSupplier feedHealthy, Duration period) {
    set(ServingStatus.SERVING);
    checker.scheduleWithFixedDelay(() -> {
      try {
        boolean reachable = database.isReachable();
        databaseUnreachable = !reachable;
        boolean feeding = feedHealthy.getAsBoolean();
        ServingStatus next = reachable && feeding ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        if (next != current) {
          log.warn("Health: {} (database {}, live change reader {})", next, reachable ? "reachable" : "unreachable",
              feeding ? "reading" : "stalled");
          set(next);
        }
      } catch (Throwable e) {
        // A periodic task that throws is never run again; health must keep following the server.
        log.error("Health check failed", e);
      }
    }, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Whether the last check found the database unreachable (pushes are then refused at once, see
   * server.admission.WriteAdmission); false before the first check and once it answers again.
   */
  public boolean databaseUnreachable() {
    return databaseUnreachable;
  }

  private synchronized void set(ServingStatus status) {
    current = status;
    for (String service : SERVICES) {
      health.setStatus(service, status);
    }
  }

  /** Reports NOT_SERVING for good (start of shutdown). */
  @Override
  public void close() {
    checker.shutdownNow();
    health.enterTerminalState();
  }
}

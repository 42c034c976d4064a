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

  /** Creates the reporter, NOT_SERVING for every service. */
  public HealthReporter() {
    set(ServingStatus.NOT_SERVING);
  }

  /** The health service to register on the server. */
  public BindableService service() {
    return health.getHealthService();
  }

  /** Reports SERVING now, then re-checks the database every {@code period}. */
  public void startChecking(Database database, Duration period) {
    set(ServingStatus.SERVING);
    checker.scheduleWithFixedDelay(() -> {
      ServingStatus next = database.isReachable() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
      if (next != current) {
        log.warn("Health: {} (database {})", next, next == ServingStatus.SERVING ? "reachable again" : "unreachable");
        set(next);
      }
    }, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
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

package io.deltasync.server;

import java.time.Duration;
import java.util.Map;

/**
 * Admission control in front of the database pool for pushes (docs/reliability.md, "Server fixes"): writes to the
 * same entity queue in the server instead of in PostgreSQL, and pushes are refused at once while health knows the
 * database is down.
 *
 * @param entityStripes how many per-entity admission locks a node has (entities hash onto them; they are made lazily,
 *     so only those of entities being admitted exist); 0 = off, pushes go straight to the pool as before
 * @param entityWait the longest a push waits for its entities' admission before it is answered RESOURCE_EXHAUSTED /
 *     SERVER_BUSY ("not now", retryable); it holds no database connection while it waits. The default, 30 s, is what
 *     such a push could wait before in PostgreSQL for the row locks (the default statement_timeout)
 * @param failFastWhileDatabaseDown whether a push is answered UNAVAILABLE / DATABASE_UNAVAILABLE at once, without
 *     waiting for a pool connection, while the health check finds the database unreachable
 */
public record AdmissionConfig(int entityStripes, Duration entityWait, boolean failFastWhileDatabaseDown) {

  /** The defaults. */
  public static AdmissionConfig defaults() {
    return from(Map.of());
  }

  /** Reads DELTASYNC_ADMISSION_STRIPES, DELTASYNC_ADMISSION_WAIT_MILLIS and DELTASYNC_FAIL_FAST_WHILE_DB_DOWN. */
  public static AdmissionConfig from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    return new AdmissionConfig(
        s.integer("DELTASYNC_ADMISSION_STRIPES", 1 << 30, 0, 1 << 30),
        Duration.ofMillis(s.integer("DELTASYNC_ADMISSION_WAIT_MILLIS", 30_000, 1, 600_000)),
        s.bool("DELTASYNC_FAIL_FAST_WHILE_DB_DOWN", true));
  }

  /** A copy with another number of stripes (0 = off). */
  public AdmissionConfig withEntityStripes(int stripes) {
    return new AdmissionConfig(stripes, entityWait, failFastWhileDatabaseDown);
  }
}

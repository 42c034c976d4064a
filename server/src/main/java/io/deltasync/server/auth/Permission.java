package io.deltasync.server.auth;

import java.util.Arrays;
import java.util.Optional;

/** What a credential may do; granted to roles (see docs/security.md). */
public enum Permission {
  /** Read changes: Sync, Pull, GetStatus, checksums. */
  SYNC_READ("sync:read"),
  /** Write: Push, and pushes on the Sync stream. */
  SYNC_WRITE("sync:write"),
  /** List conflicts waiting for manual resolution. */
  CONFLICTS_READ("conflicts:read"),
  /** Resolve a conflict. */
  CONFLICTS_RESOLVE("conflicts:resolve"),
  /** Operational status (AdminService methods other than metrics and clean-up). */
  OPS_STATUS("ops:status"),
  /** AdminService.GetMetrics. */
  OPS_METRICS("ops:metrics"),
  /** AdminService.CleanupTombstones. */
  OPS_CLEANUP("ops:cleanup"),
  /** Server reflection, when DELTASYNC_REFLECTION=permission. */
  OPS_REFLECTION("ops:reflection");

  private final String label;

  Permission(String label) {
    this.label = label;
  }

  /** The name used in configuration and in errors, for example {@code sync:write}. */
  public String label() {
    return label;
  }

  /** The permission of that name. */
  public static Optional<Permission> byLabel(String label) {
    return Arrays.stream(values()).filter(p -> p.label.equals(label)).findFirst();
  }
}

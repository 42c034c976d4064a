package io.deltasync.server.store;

import io.deltasync.v1.Entity;
import java.util.Optional;

/**
 * Compare-and-set writes of entities, inside the caller's transaction. Each write is one SQL statement whose
 * WHERE clause holds the expected version; an empty result means the expectation did not hold (or the row is
 * absent), and the caller decides what that means. Kept behind an interface so a store for typed tables can sit
 * beside the JSON one (DESIGN-NOTES §11).
 */
public interface EntityStore {
  /** Inserts a new entity; empty if one with this key exists (live or tombstone). */
  Optional<Entity> insert(EntityKey key, String dataJson, String modifiedBy);

  /** Brings a tombstone back to life with new data; empty unless the row is a tombstone matching {@code base}. */
  Optional<Entity> recreate(EntityKey key, Expected base, String dataJson, String modifiedBy);

  /** Replaces a live entity's data; empty unless the row is live and matches {@code base}. */
  Optional<Entity> replaceData(EntityKey key, Expected base, String dataJson, String modifiedBy);

  /** Turns a live entity into a tombstone; empty unless the row is live and matches {@code base}. */
  Optional<Entity> markDeleted(EntityKey key, Expected base, String modifiedBy);

  /**
   * Sets the entity's conflict state ({@code sync_status} and {@code conflict_data}, null to clear) and, when
   * {@code dataJson} is not null, its data and liveness; empty unless the row matches {@code base}.
   */
  Optional<Entity> writeConflictState(EntityKey key, Expected base, String syncStatus, String conflictDataJson,
      String dataJson, boolean deleted);

  /**
   * Locks the row until the transaction ends (against other writers, not readers) if it matches {@code base}, and
   * returns it; empty otherwise. For bookkeeping that must see every conflict committed before it (the statements
   * after the lock read with a newer snapshot).
   */
  Optional<Entity> lock(EntityKey key, Expected base);

  /**
   * Records the entity's conflict state ({@code sync_status} and {@code conflict_data}) as bookkeeping, not as a
   * write: {@code row_version}, etag and last-modified stay, and nothing is logged (V10), so no client's
   * compare-and-set misses because of it and no client is sent a change it would skip anyway. Lock the row first.
   */
  Entity recordConflictState(EntityKey key, String syncStatus, String conflictDataJson);

  /** The current row, live or tombstone, to report after a compare-and-set miss. */
  Optional<Entity> find(EntityKey key);
}

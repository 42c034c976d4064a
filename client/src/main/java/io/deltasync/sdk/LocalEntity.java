package io.deltasync.sdk;

import com.google.protobuf.Struct;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncStatus;

/**
 * An entity as the app sees it: the server's state with the app's pending writes applied on top (optimistic).
 *
 * @param key the entity's identity
 * @param data the document (empty when deleted)
 * @param deleted whether the entity is deleted (locally, pending, or on the server)
 * @param serverVersion the server's row_version the client holds; 0 before the server confirmed a local create
 * @param pending whether local writes of the entity wait for their result
 * @param server the server's entity as last seen (null before the server confirmed a local create)
 */
public record LocalEntity(EntityKey key, Struct data, boolean deleted, long serverVersion, boolean pending,
    Entity server) {
  /** Whether a conflict of this entity waits for manual resolution on the server (see SyncClient#resolveConflict). */
  public boolean inConflict() {
    return server != null && server.getSyncStatus() == SyncStatus.SYNC_STATUS_CONFLICT;
  }
}

package io.deltasync.sdk;

import com.google.protobuf.Struct;
import io.deltasync.v1.Entity;
import java.util.Objects;

/**
 * One row of the local copy as a {@link LocalStore} keeps it: the server's state of the entity (the newest the
 * client has seen, by {@code row_version}) and, while local writes of it are pending, the local state the app sees
 * on top of it.
 *
 * @param key the entity's identity
 * @param server the server's entity, or null when the server has not confirmed it yet (a local create)
 * @param localData the app's document while local writes are pending (null when deleted locally or none pending)
 * @param localDeleted whether the pending local writes delete the entity
 * @param hasLocal whether local writes of the entity are pending (then localData/localDeleted are what the app sees)
 */
public record StoredEntity(EntityKey key, Entity server, Struct localData, boolean localDeleted, boolean hasLocal) {
  /** Checks the key. */
  public StoredEntity {
    Objects.requireNonNull(key, "key");
  }

  /** The server's row_version of the entity; 0 when the server has not confirmed it. */
  public long serverVersion() {
    return server == null ? 0 : server.getRowVersion();
  }

  /** The same row with another server state. */
  public StoredEntity withServer(Entity newServer) {
    return new StoredEntity(key, newServer, localData, localDeleted, hasLocal);
  }

  /** The same row without local state: the app sees the server's state again. */
  public StoredEntity withoutLocal() {
    return new StoredEntity(key, server, null, false, false);
  }

  /** What the app sees. */
  public LocalEntity visible() {
    if (hasLocal) {
      return new LocalEntity(key, localDeleted ? Struct.getDefaultInstance() : localData, localDeleted,
          serverVersion(), true, server);
    }
    return new LocalEntity(key, server.getData(), server.getIsDeleted(), server.getRowVersion(), false, server);
  }
}

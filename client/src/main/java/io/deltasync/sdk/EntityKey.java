package io.deltasync.sdk;

import io.deltasync.v1.Delta;
import io.deltasync.v1.Entity;
import java.util.Objects;

/**
 * The identity of an entity: scope, entity type and id, as on the server.
 *
 * @param scope the partition the entity belongs to
 * @param entityType the kind of entity
 * @param entityId the id within (scope, entity type)
 */
public record EntityKey(String scope, String entityType, String entityId) {
  /** Checks that no part is null. */
  public EntityKey {
    Objects.requireNonNull(scope, "scope");
    Objects.requireNonNull(entityType, "entityType");
    Objects.requireNonNull(entityId, "entityId");
  }

  /** The key of a server entity. */
  public static EntityKey of(Entity entity) {
    return new EntityKey(entity.getScope(), entity.getEntityType(), entity.getEntityId());
  }

  /** The key a delta writes. */
  public static EntityKey of(Delta delta) {
    return new EntityKey(delta.getScope(), delta.getEntityType(), delta.getEntityId());
  }
}

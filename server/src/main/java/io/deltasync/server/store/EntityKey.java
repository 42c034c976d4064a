package io.deltasync.server.store;

/**
 * The identity of an entity.
 *
 * @param scope the partition it belongs to
 * @param entityType its kind
 * @param entityId its id within (scope, entity_type)
 */
public record EntityKey(String scope, String entityType, String entityId) {}

package io.deltasync.server.store;

import io.deltasync.v1.Delta;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * A conflict in the manual resolution queue.
 *
 * @param conflictId its id
 * @param key the entity
 * @param clientId who pushed the delta
 * @param delta the delta as pushed
 * @param baseRowVersion the version the delta was based on
 * @param serverRowVersion the entity's version when the conflict was detected
 * @param serverDataJson the entity's data then (null for a tombstone)
 * @param serverDeleted whether it was a tombstone then
 * @param detectedAt when the conflict was detected
 * @param resolvedAt when it was resolved (null while open)
 */
public record QueuedConflict(UUID conflictId, EntityKey key, String clientId, Delta delta, long baseRowVersion,
    long serverRowVersion, String serverDataJson, boolean serverDeleted, OffsetDateTime detectedAt,
    OffsetDateTime resolvedAt) {}

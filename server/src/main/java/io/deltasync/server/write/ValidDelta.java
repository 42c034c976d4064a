package io.deltasync.server.write;

import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Expected;
import io.deltasync.v1.Delta;

/**
 * A delta that passed validation, with what the write needs already worked out.
 *
 * @param delta the delta as received
 * @param key the entity it writes
 * @param base what the compare-and-set expects
 * @param dataJson the new document as JSON ("{}" for deletes)
 */
record ValidDelta(Delta delta, EntityKey key, Expected base, String dataJson) {}

-- The single-delta claim-and-write stores what its result needs in the claim itself (issue 11, fourth part): the
-- entity exactly as the write left it, so that a plainly applied delta no longer costs a second write of its
-- idempotency row (the result UPDATE: a second heap version carrying the entity, and a third round trip). A retry
-- is answered from this snapshot, never from the entity or the change log as they are now. Additive: rows written
-- before keep their serialized result, and every delta decided by a policy still stores one.
ALTER TABLE applied_delta ADD COLUMN written_entity jsonb;

COMMENT ON COLUMN applied_delta.written_entity IS
    'The entity row as the claiming statement wrote it (jsonb of its columns), for a delta applied by that plain write; its result is APPLIED with this entity. NULL when the result column holds the result instead.';
COMMENT ON COLUMN applied_delta.result IS
    'Serialized deltasync.v1.DeltaResult; NULL for a delta answered from written_entity.';

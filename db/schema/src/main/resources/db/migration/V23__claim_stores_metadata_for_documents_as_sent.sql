-- The claim of a delta whose plain write stored the delta's own document keeps only the entity's metadata (issue 11,
-- fifth part). V19 made the claim-and-write store the written entity in applied_delta.written_entity, document and
-- all, so a retry is answered with exactly the first answer; for a create or a full replacement whose stored data
-- equals (as jsonb) the document the delta sent, that document is the delta's own, and the retry carries it again:
-- its digest (SHA-256 of the delta's deterministic encoding) matches the claim's only when it is the same delta. So
-- the claim keeps the entity's other columns in written_meta, and the retry's answer takes data from the retrying
-- delta, read as PostgreSQL would read it back (Json.asStored). A write whose stored data differs from what was sent
-- (numbers kept in their stored exact form, merges, patches, transforms, policies, a deployment's own trigger)
-- still stores the whole entity in written_entity, or its serialized result.
--
-- A separate column rather than written_entity without 'data': a node built before this migration reads neither
-- result nor written_entity for such a claim and refuses to answer it (the delta is answered REJECTED / INTERNAL,
-- "first answer unknown") instead of answering APPLIED without the document; upgrade every node together
-- (docs/operations.md, "Upgrades"). Additive: claims stored before keep replaying.
--
-- Numbered 23 (written as 20): a migration numbered below the database's current version (22) would stop every
-- node at start-up, Flyway refusing to apply it out of order.
ALTER TABLE applied_delta ADD COLUMN written_meta jsonb;

COMMENT ON COLUMN applied_delta.written_meta IS
    'For a delta applied by its plain write that stored the delta''s own document (or deleted the entity): the entity row as written, without data (jsonb of its other columns). Its result is APPLIED with this entity and, unless deleted, the retrying delta''s own document as jsonb reads it back. NULL otherwise (V23).';

-- deltasync schema v12: conflict_data within what deltasync carries, for every writer.
--
-- V6 guards entity.data (nested at most 32 levels, at most 1 MiB) and requires conflict_data to be NULL or an
-- object; a plain-SQL writer could still store a conflict_data nested deeper than clients can parse, which the
-- server could then neither deliver nor return from a write. The same rule as for data now applies to it.
-- NOT VALID like V6: rows that broke it before stay (the server leaves such conflict_data out of what it returns
-- and delivers those changes degraded); find them with
--   SELECT scope, entity_type, entity_id FROM entity WHERE NOT deltasync_document_fits(conflict_data);
-- and, once fixed, run ALTER TABLE entity VALIDATE CONSTRAINT entity_conflict_data_fits;
ALTER TABLE entity
    ADD CONSTRAINT entity_conflict_data_fits
        CHECK (conflict_data IS NULL OR deltasync_document_fits(conflict_data)) NOT VALID;

COMMENT ON CONSTRAINT entity_conflict_data_fits ON entity IS 'conflict_data nests at most 32 levels and is at most 1 MiB as jsonb text (deltasync_document_fits).';

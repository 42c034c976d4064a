-- deltasync schema v6: the database guards what the server can carry, for every writer — plain-SQL writers by
-- other services included, which never pass through the server's validator.
--
-- A row the server cannot convert or send used to stop the change feed for every client (it is now delivered
-- degraded instead: see docs/protocol.md, "Degraded changes"); these constraints keep such rows from being written
-- in the first place, with an error that names the rule:
--   * entity.conflict_data is NULL or a JSON object (it is read as a google.protobuf.Struct);
--   * entity.data nests at most 32 levels, the documented limit of the validator (README, "Limits"): a flat object
--     is 1 level, each nested object or array adds 1. Deeper documents cannot reach clients: protobuf parsers
--     refuse messages nested past 100 levels, and one Struct level costs three;
--   * entity.data takes at most 1 MiB as jsonb text (data::text, which PostgreSQL prints with a space after each
--     ',' and ':'). A hard ceiling above the server's own limit (DELTASYNC_MAX_DELTA_DATA_BYTES: 256 KiB of compact
--     JSON by default, at most 512 KiB, i.e. at most about 768 KiB as jsonb text), so the server's writes never hit
--     it; it stops a plain-SQL writer from storing a document no client could receive.
-- (entity.data being an object is checked since V1: entity_data_is_object.)
--
-- Existing rows: the constraints are added NOT VALID, so a database that already holds violating rows migrates
-- without failing; new inserts and updates are checked at once. Such old rows are delivered degraded until they
-- are repaired. To find them, and to make the constraints cover all rows once they are fixed:
--   SELECT scope, entity_type, entity_id FROM entity
--    WHERE NOT (conflict_data IS NULL OR jsonb_typeof(conflict_data) = 'object')
--       OR NOT deltasync_document_fits(data);
--   ALTER TABLE entity VALIDATE CONSTRAINT entity_conflict_data_is_object;
--   ALTER TABLE entity VALIDATE CONSTRAINT entity_data_fits;
-- The change log is not constrained: it is written only by the trigger on entity, and its history is kept as it is.

-- Whether a document is within what the server carries: nesting at most 32 levels, at most 1 MiB as jsonb text.
-- jsonpath's .**{32} visits the values 32 levels below the root; an object or array there is a 33rd level.
CREATE FUNCTION deltasync_document_fits(doc jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
SELECT octet_length(doc::text) <= 1048576
   AND NOT jsonb_path_exists(doc, 'strict $.**{32} ? (@.type() == "object" || @.type() == "array")')
$$;

COMMENT ON FUNCTION deltasync_document_fits(jsonb) IS 'Whether a document is within what deltasync carries: nested at most 32 levels (objects and arrays), at most 1 MiB as jsonb text.';

ALTER TABLE entity
    ADD CONSTRAINT entity_conflict_data_is_object
        CHECK (conflict_data IS NULL OR jsonb_typeof(conflict_data) = 'object') NOT VALID,
    ADD CONSTRAINT entity_data_fits
        CHECK (deltasync_document_fits(data)) NOT VALID;

COMMENT ON CONSTRAINT entity_conflict_data_is_object ON entity IS 'conflict_data must be NULL or a JSON object (deltasync reads it as a google.protobuf.Struct).';
COMMENT ON CONSTRAINT entity_data_fits ON entity IS 'data must nest at most 32 levels and take at most 1 MiB as jsonb text (see deltasync_document_fits): deeper or bigger documents cannot reach clients.';

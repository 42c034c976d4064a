-- deltasync schema v11: versions never restart for a key.
--
-- V5 made an insert continue after the highest row_version the change log has for its key, so an entity deleted
-- physically (logged as a delete at its version + 1) and created again continues above every version clients hold.
-- That only holds while the key's change-log rows exist: once clean-up (or a plain-SQL DELETE FROM change_log)
-- removes them, an insert started again at 1, and a client that held the key at a higher version (its tombstone,
-- say) skipped every change of the new entity as older than what it had (clients apply by row_version only).
--
-- The evidence of a version now never leaves the database without a trace: whenever rows that carried a key's
-- versions go away -- change-log rows deleted or truncated, an entity row purged without being logged
-- (deltasync.purging) -- the highest of those versions is kept in entity_version_mark, and an insert continues
-- above the greater of the change log's maximum and the mark. One small row per key whose history was removed.
-- A mark is only needed while the key has no entity row (an existing row's version is already at or above it, and
-- the rows that later record its versions leave a mark in turn when they go), so clean-up may delete the marks of
-- keys that have an entity row; nothing does yet.
CREATE TABLE entity_version_mark (
    scope       text   NOT NULL,
    entity_type text   NOT NULL,
    entity_id   text   NOT NULL,
    row_version bigint NOT NULL,
    CONSTRAINT entity_version_mark_pk PRIMARY KEY (scope, entity_type, entity_id)
);

COMMENT ON TABLE entity_version_mark IS 'Highest row_version each key reached among change-log and entity rows since removed; an insert of the key continues above it (V11).';

-- Statement-level with transition tables: a clean-up deleting a million change-log rows upserts one mark per key,
-- not one per row. Keys are upserted in key order, so two concurrent clean-ups lock marks in the same order and
-- cannot deadlock on them.
CREATE FUNCTION deltasync_keep_version_mark() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE fires no row triggers and has no transition table: take the marks from the table itself.
        INSERT INTO entity_version_mark AS m (scope, entity_type, entity_id, row_version)
        SELECT c.scope, c.entity_type, c.entity_id, max(c.row_version)
        FROM change_log c
        GROUP BY c.scope, c.entity_type, c.entity_id
        ORDER BY c.scope, c.entity_type, c.entity_id
        ON CONFLICT ON CONSTRAINT entity_version_mark_pk
            DO UPDATE SET row_version = greatest(m.row_version, excluded.row_version);
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'entity' AND current_setting('deltasync.purging', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;  -- a logged physical delete: its change-log row (at the version + 1) carries the version on
    END IF;
    INSERT INTO entity_version_mark AS m (scope, entity_type, entity_id, row_version)
    SELECT g.scope, g.entity_type, g.entity_id, max(g.row_version)
    FROM gone g
    GROUP BY g.scope, g.entity_type, g.entity_id
    ORDER BY g.scope, g.entity_type, g.entity_id
    ON CONFLICT ON CONSTRAINT entity_version_mark_pk
        DO UPDATE SET row_version = greatest(m.row_version, excluded.row_version);
    RETURN NULL;
END
$$;

CREATE TRIGGER change_log_keep_version_mark
    AFTER DELETE ON change_log
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION deltasync_keep_version_mark();

CREATE TRIGGER change_log_keep_version_mark_on_truncate
    BEFORE TRUNCATE ON change_log
    FOR EACH STATEMENT EXECUTE FUNCTION deltasync_keep_version_mark();

CREATE TRIGGER entity_keep_version_mark
    AFTER DELETE ON entity
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION deltasync_keep_version_mark();

-- V5's deltasync_entity_stamp (the newest definition; V7 and V10 replaced other functions), with the insert
-- continuing above the mark too.
CREATE OR REPLACE FUNCTION deltasync_entity_stamp() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    actor text := nullif(current_setting('deltasync.client_id', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.row_version := greatest(
            (SELECT max(c.row_version) FROM change_log c
             WHERE c.scope = NEW.scope AND c.entity_type = NEW.entity_type AND c.entity_id = NEW.entity_id),
            (SELECT m.row_version FROM entity_version_mark m
             WHERE m.scope = NEW.scope AND m.entity_type = NEW.entity_type AND m.entity_id = NEW.entity_id),
            0) + 1;
    ELSE
        IF NEW.scope IS DISTINCT FROM OLD.scope OR NEW.entity_type IS DISTINCT FROM OLD.entity_type
            OR NEW.entity_id IS DISTINCT FROM OLD.entity_id THEN
            RAISE EXCEPTION 'an entity''s scope, entity_type and entity_id cannot change (delete it and create another)'
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.row_version := OLD.row_version + 1;
        NEW.created_at := OLD.created_at;
        IF actor IS NULL AND NEW.last_modified_by IS NOT DISTINCT FROM OLD.last_modified_by THEN
            actor := session_user;  -- a plain-SQL writer that did not say who it is
        END IF;
    END IF;
    NEW.last_modified_by := coalesce(actor, NEW.last_modified_by);
    NEW.last_modified_at := clock_timestamp();
    NEW.etag := deltasync_etag(NEW.scope, NEW.entity_type, NEW.entity_id, NEW.row_version, NEW.created_at);
    RETURN NEW;
END
$$;

-- deltasync schema v14: who wrote a row travels with the row, so one statement can write many deltas (issue 11);
-- leaner triggers.
--
-- 1. Writer per row. Until now the triggers learned who was writing (client id, delta id, the write's effective
--    clock) from transaction-local settings (deltasync.client_id, deltasync.delta_id, deltasync.write_clock_us):
--    one value per statement, so every delta of a batch needed its own statement. The entity row now carries its
--    writer: writer_client_id and writer_delta_id say which client's delta made the row's current version (both
--    NULL for a plain-SQL write). A statement that writes many deltas' rows sets them per row, together with
--    write_clock_us (the write's effective time, microseconds since the epoch); the stamping trigger then takes the
--    writer from the row instead of from the settings. A row "supplies its writer" when writer_delta_id is not NULL
--    and, on UPDATE, (writer_client_id, writer_delta_id) differs from the old row's: a delta is applied once, so a
--    deltasync writer never supplies the pair already stored. Every other write -- the server's single-delta
--    statements, which still use the settings, and plain SQL by other services, which sets nothing -- gets the
--    pair from the settings (NULL when unset), so the columns always describe the current version, and plain-SQL
--    writes still reach the change log with client_id and delta_id NULL and last_modified_by the database user.
--    (A plain-SQL writer that copies rows between tables should leave these two columns out, or it claims to be
--    the delta that wrote the copied row.)
ALTER TABLE entity
    ADD COLUMN writer_client_id text,
    ADD COLUMN writer_delta_id  text;

COMMENT ON COLUMN entity.writer_client_id IS 'Client whose delta made the current version; NULL for plain-SQL writes. Set per row by multi-row writes (with writer_delta_id and write_clock_us), else taken from deltasync.client_id (V14).';
COMMENT ON COLUMN entity.writer_delta_id IS 'delta_id of the delta that made the current version; NULL for plain-SQL writes (V14).';

-- 2. One BEFORE trigger instead of three. entity_stamp (version, etag, who, when; V11), entity_stamp_clocks (field
--    clocks; V7) and entity_stamp_keep_version_for_bookkeeping (V10) were three PL/pgSQL calls per row, each reading
--    the same settings; they are merged into one function with the same rules, in the order they fired.
CREATE OR REPLACE FUNCTION deltasync_entity_stamp() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    supplied boolean;
    actor    text;
    clock    bigint;
    stamp    jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.scope IS DISTINCT FROM OLD.scope OR NEW.entity_type IS DISTINCT FROM OLD.entity_type
            OR NEW.entity_id IS DISTINCT FROM OLD.entity_id THEN
            RAISE EXCEPTION 'an entity''s scope, entity_type and entity_id cannot change (delete it and create another)'
                USING ERRCODE = 'check_violation';
        END IF;
        -- V10: conflict bookkeeping (the server's setting, one statement) that changes neither data nor liveness
        -- is not a version: nothing that identifies the version moves, and the log trigger skips it.
        IF current_setting('deltasync.bookkeeping', true) = 'on'
            AND NEW.data IS NOT DISTINCT FROM OLD.data AND NEW.is_deleted = OLD.is_deleted THEN
            NEW.row_version := OLD.row_version;
            NEW.etag := OLD.etag;
            NEW.created_at := OLD.created_at;
            NEW.last_modified_at := OLD.last_modified_at;
            NEW.last_modified_by := OLD.last_modified_by;
            NEW.writer_client_id := OLD.writer_client_id;
            NEW.writer_delta_id := OLD.writer_delta_id;
            NEW.field_clocks := OLD.field_clocks;
            NEW.write_clock_us := OLD.write_clock_us;
            NEW.write_clock_by := OLD.write_clock_by;
            RETURN NEW;
        END IF;
        supplied := NEW.writer_delta_id IS NOT NULL
            AND (NEW.writer_client_id, NEW.writer_delta_id) IS DISTINCT FROM (OLD.writer_client_id, OLD.writer_delta_id);
    ELSE
        supplied := NEW.writer_delta_id IS NOT NULL;
    END IF;

    IF supplied THEN
        actor := NEW.writer_client_id;
        clock := nullif(NEW.write_clock_us, 0);
    ELSE
        actor := nullif(current_setting('deltasync.client_id', true), '');
        NEW.writer_client_id := actor;
        NEW.writer_delta_id := nullif(current_setting('deltasync.delta_id', true), '');
        clock := nullif(current_setting('deltasync.write_clock_us', true), '')::bigint;
    END IF;

    -- V11: versions never restart for a key.
    IF TG_OP = 'INSERT' THEN
        NEW.row_version := greatest(
            (SELECT max(c.row_version) FROM change_log c
             WHERE c.scope = NEW.scope AND c.entity_type = NEW.entity_type AND c.entity_id = NEW.entity_id),
            (SELECT m.row_version FROM entity_version_mark m
             WHERE m.scope = NEW.scope AND m.entity_type = NEW.entity_type AND m.entity_id = NEW.entity_id),
            0) + 1;
    ELSE
        NEW.row_version := OLD.row_version + 1;
        NEW.created_at := OLD.created_at;
        IF actor IS NULL AND NEW.last_modified_by IS NOT DISTINCT FROM OLD.last_modified_by THEN
            actor := session_user;  -- a plain-SQL writer that did not say who it is
        END IF;
    END IF;
    NEW.last_modified_by := coalesce(actor, NEW.last_modified_by);
    NEW.last_modified_at := clock_timestamp();
    NEW.etag := deltasync_etag(NEW.scope, NEW.entity_type, NEW.entity_id, NEW.row_version, NEW.created_at);

    -- V7: field clocks move only for writes that change the document or its liveness.
    IF TG_OP = 'UPDATE' AND NEW.data IS NOT DISTINCT FROM OLD.data AND NEW.is_deleted = OLD.is_deleted THEN
        NEW.field_clocks := OLD.field_clocks;
        NEW.write_clock_us := OLD.write_clock_us;
        NEW.write_clock_by := OLD.write_clock_by;
        RETURN NEW;
    END IF;
    clock := coalesce(clock, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    stamp := jsonb_build_object('t', clock, 'c', NEW.last_modified_by);
    IF TG_OP = 'INSERT' THEN
        NEW.field_clocks := coalesce((SELECT jsonb_object_agg(k, stamp) FROM jsonb_object_keys(NEW.data) AS k),
                                     '{}'::jsonb);
    ELSE
        NEW.field_clocks := OLD.field_clocks || coalesce(
            (SELECT jsonb_object_agg(f.k, stamp)
             FROM (SELECT jsonb_object_keys(OLD.data) UNION SELECT jsonb_object_keys(NEW.data)) AS f(k)
             WHERE (OLD.data -> f.k) IS DISTINCT FROM (NEW.data -> f.k)),
            '{}'::jsonb);
    END IF;
    NEW.write_clock_us := clock;
    NEW.write_clock_by := NEW.last_modified_by;
    RETURN NEW;
END
$$;

DROP TRIGGER entity_stamp_clocks ON entity;
DROP TRIGGER entity_stamp_keep_version_for_bookkeeping ON entity;
DROP FUNCTION deltasync_entity_stamp_clocks();
DROP FUNCTION deltasync_entity_keep_version_for_bookkeeping();

-- 3. The change log is appended once per statement, not once per row. Statement-level triggers with transition
--    tables: a 50-row write runs one INSERT ... SELECT into change_log instead of 50 PL/pgSQL calls of a one-row
--    INSERT each. Same rows as before (V4/V10): an insert is a 'create' (or a 'delete' if inserted deleted); an
--    update is logged only if it made a version (row_version moved; bookkeeping does not), as a 'delete' when it
--    deleted, a 'create' when it brought a tombstone back, else an 'update'. The writer comes from the row (1.); the
--    edits setting (deltasync.edits, for changes made with operational-transform edits) belongs to the delta the
--    settings name, so it is logged only for rows whose writer is that delta. Physical deletes stay row-level (V4's
--    function, which logs them from the settings); purges are not logged, as before.
CREATE FUNCTION deltasync_entity_log_writes() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    setting_client text := nullif(current_setting('deltasync.client_id', true), '');
    setting_delta  text := nullif(current_setting('deltasync.delta_id', true), '');
    setting_edits  jsonb := nullif(current_setting('deltasync.edits', true), '')::jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO change_log (scope, entity_type, entity_id, operation, row_version, etag, data, sync_status,
                                conflict_data, is_deleted, last_modified_at, last_modified_by, created_at,
                                client_id, delta_id, edits)
        SELECT n.scope, n.entity_type, n.entity_id, CASE WHEN n.is_deleted THEN 'delete' ELSE 'create' END,
               n.row_version, n.etag, CASE WHEN n.is_deleted THEN NULL ELSE n.data END, n.sync_status,
               n.conflict_data, n.is_deleted, n.last_modified_at, n.last_modified_by, n.created_at,
               n.writer_client_id, n.writer_delta_id,
               CASE WHEN n.writer_client_id IS NOT DISTINCT FROM setting_client
                     AND n.writer_delta_id IS NOT DISTINCT FROM setting_delta THEN setting_edits END
        FROM written n;
    ELSE
        INSERT INTO change_log (scope, entity_type, entity_id, operation, row_version, etag, data, sync_status,
                                conflict_data, is_deleted, last_modified_at, last_modified_by, created_at,
                                client_id, delta_id, edits)
        SELECT n.scope, n.entity_type, n.entity_id,
               CASE WHEN n.is_deleted AND NOT o.is_deleted THEN 'delete'
                    WHEN o.is_deleted AND NOT n.is_deleted THEN 'create'
                    ELSE 'update' END,
               n.row_version, n.etag, CASE WHEN n.is_deleted THEN NULL ELSE n.data END, n.sync_status,
               n.conflict_data, n.is_deleted, n.last_modified_at, n.last_modified_by, n.created_at,
               n.writer_client_id, n.writer_delta_id,
               CASE WHEN n.writer_client_id IS NOT DISTINCT FROM setting_client
                     AND n.writer_delta_id IS NOT DISTINCT FROM setting_delta THEN setting_edits END
        FROM written n
        JOIN previous o ON o.scope = n.scope AND o.entity_type = n.entity_type AND o.entity_id = n.entity_id
        WHERE o.row_version IS DISTINCT FROM n.row_version
        ORDER BY n.last_modified_at;  -- the order the rows were written in, as the row-level trigger logged them
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER entity_log_change ON entity;
DROP TRIGGER entity_log_change_update ON entity;

CREATE TRIGGER entity_log_inserts
    AFTER INSERT ON entity
    REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION deltasync_entity_log_writes();

CREATE TRIGGER entity_log_updates
    AFTER UPDATE ON entity
    REFERENCING OLD TABLE AS previous NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION deltasync_entity_log_writes();

CREATE TRIGGER entity_log_change
    AFTER DELETE ON entity
    FOR EACH ROW EXECUTE FUNCTION deltasync_entity_log_change();

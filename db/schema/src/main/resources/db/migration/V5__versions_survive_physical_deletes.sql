-- deltasync schema v5: fixes found in review.

-- 1. Versions never go backwards for a key. A physical DELETE (plain SQL by another service) is logged as a delete
--    at OLD.row_version + 1; a later INSERT of the same key used to start again at 1, and clients — which apply a
--    change only if its row_version is greater than the one they hold — kept the tombstone for ever. An insert now
--    continues after the highest version the change log has for the key.
CREATE INDEX change_log_entity ON change_log (scope, entity_type, entity_id, row_version);

CREATE OR REPLACE FUNCTION deltasync_entity_stamp() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    actor text := nullif(current_setting('deltasync.client_id', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.row_version := coalesce((SELECT max(c.row_version) FROM change_log c
                                     WHERE c.scope = NEW.scope AND c.entity_type = NEW.entity_type
                                       AND c.entity_id = NEW.entity_id), 0) + 1;
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

-- 2. Last-write-wins clocks only move for writes that change the document or its liveness. Queuing a conflict or
--    resolving one with "take server" changes sync_status and conflict_data only; stamping the clocks then would
--    make a later decision compare against a write that never happened.
CREATE OR REPLACE FUNCTION deltasync_entity_stamp_clocks() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    clock  bigint := coalesce(nullif(current_setting('deltasync.write_clock_us', true), '')::bigint,
                              (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    stamp  jsonb;
    field  text;
    clocks jsonb;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.data IS NOT DISTINCT FROM OLD.data AND NEW.is_deleted = OLD.is_deleted THEN
        NEW.field_clocks := OLD.field_clocks;
        NEW.write_clock_us := OLD.write_clock_us;
        NEW.write_clock_by := OLD.write_clock_by;
        RETURN NEW;
    END IF;
    stamp := jsonb_build_object('t', clock, 'c', NEW.last_modified_by);
    IF TG_OP = 'INSERT' THEN
        clocks := '{}'::jsonb;
        FOR field IN SELECT jsonb_object_keys(NEW.data) LOOP
            clocks := clocks || jsonb_build_object(field, stamp);
        END LOOP;
    ELSE
        clocks := OLD.field_clocks;
        FOR field IN SELECT jsonb_object_keys(OLD.data) UNION SELECT jsonb_object_keys(NEW.data) LOOP
            IF (OLD.data -> field) IS DISTINCT FROM (NEW.data -> field) THEN
                clocks := clocks || jsonb_build_object(field, stamp);
            END IF;
        END LOOP;
    END IF;
    NEW.field_clocks := clocks;
    NEW.write_clock_us := clock;
    NEW.write_clock_by := NEW.last_modified_by;
    RETURN NEW;
END
$$;

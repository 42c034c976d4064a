-- deltasync schema v3: what conflict resolution needs.

-- 1. Last-write-wins clocks, kept by the database on every write (also plain-SQL ones):
--    write_clock_us / write_clock_by: the effective time (microseconds since the epoch) and writer of the last write;
--    field_clocks: the same per top-level field of data, {"title": {"t": 1764070000123456, "c": "phone-1"}, ...},
--    updated for each field whose value changed (or that was removed).
--    The application passes the write's effective time in the transaction-local setting deltasync.write_clock_us
--    (the client's time, capped at the server's time plus the allowed skew); without it, the server's clock is used.
ALTER TABLE entity
    ADD COLUMN write_clock_us bigint NOT NULL DEFAULT 0,
    ADD COLUMN write_clock_by text   NOT NULL DEFAULT '',
    ADD COLUMN field_clocks   jsonb  NOT NULL DEFAULT '{}'::jsonb;

COMMENT ON COLUMN entity.field_clocks IS 'Per top-level field: effective time (t, microseconds) and writer (c) of its last change, for field-level last-write-wins.';

CREATE FUNCTION deltasync_entity_stamp_clocks() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    clock  bigint := coalesce(nullif(current_setting('deltasync.write_clock_us', true), '')::bigint,
                              (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
    stamp  jsonb;
    field  text;
    clocks jsonb;
BEGIN
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

-- Runs after entity_stamp (triggers fire in name order), so last_modified_by is already final.
CREATE TRIGGER entity_stamp_clocks
    BEFORE INSERT OR UPDATE ON entity
    FOR EACH ROW EXECUTE FUNCTION deltasync_entity_stamp_clocks();

-- 2. The manual resolution queue.
CREATE TABLE conflict (
    conflict_id        uuid        NOT NULL DEFAULT gen_random_uuid(),
    scope              text        NOT NULL,
    entity_type        text        NOT NULL,
    entity_id          text        NOT NULL,
    client_id          text        NOT NULL,
    client_delta       bytea       NOT NULL,
    base_row_version   bigint      NOT NULL,
    server_row_version bigint      NOT NULL,
    server_data        jsonb,
    server_deleted     boolean     NOT NULL,
    detected_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    resolved_at        timestamptz,
    resolution         text,
    CONSTRAINT conflict_pk PRIMARY KEY (conflict_id),
    CONSTRAINT conflict_resolution_known CHECK (resolution IN ('take_client', 'take_server', 'use_data'))
);

COMMENT ON TABLE conflict IS 'Conflicts queued for manual resolution: the client delta (serialized deltasync.v1.Delta) and the server state it met.';
COMMENT ON COLUMN conflict.client_delta IS 'Serialized deltasync.v1.Delta as pushed.';

CREATE INDEX conflict_open ON conflict (detected_at, conflict_id) WHERE resolved_at IS NULL;
CREATE INDEX conflict_entity ON conflict (scope, entity_type, entity_id) WHERE resolved_at IS NULL;

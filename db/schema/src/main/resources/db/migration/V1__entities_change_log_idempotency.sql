-- deltasync schema v1: the entity store, the change log every write appends to, and the idempotency record.
--
-- Invariants kept here, in the database, so that no writer (deltasync or another service writing plain SQL)
-- can break them:
--   * row_version starts at 1 and grows by exactly 1 on every update; etag is derived from it.
--   * every insert/update/delete of an entity appends one change_log row in the same transaction.
--   * change_log.tx_id is the writing transaction's id, so readers can follow commit visibility (see below).

-- Transaction-local settings the application sets before writing (set_config(..., true)):
--   deltasync.client_id  who made the change (copied to last_modified_by and change_log.client_id)
--   deltasync.delta_id   the client-generated id of the delta that caused it (change_log.delta_id)
--   deltasync.purging    'on' while tombstones are purged: physical deletes are then not logged
-- Plain-SQL writers leave them unset: the change is logged with last_modified_by = the database user.

CREATE TABLE entity (
    scope            text        NOT NULL,
    entity_type      text        NOT NULL,
    entity_id        text        NOT NULL,
    data             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    row_version      bigint      NOT NULL DEFAULT 1,
    etag             text        NOT NULL DEFAULT '',
    last_modified_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified_by text        NOT NULL DEFAULT session_user,
    sync_status      text        NOT NULL DEFAULT 'synced',
    conflict_data    jsonb,
    is_deleted       boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT entity_pk PRIMARY KEY (scope, entity_type, entity_id),
    CONSTRAINT entity_sync_status_known CHECK (sync_status IN ('synced', 'pending', 'conflict')),
    CONSTRAINT entity_row_version_positive CHECK (row_version >= 1),
    CONSTRAINT entity_data_is_object CHECK (jsonb_typeof(data) = 'object')
);

COMMENT ON TABLE entity IS 'Synced entities (JSON documents), one row per (scope, entity_type, entity_id); deletes are tombstones (is_deleted).';
COMMENT ON COLUMN entity.scope IS 'The partition a client may be allowed to see; part of the identity, so scopes never share rows.';
COMMENT ON COLUMN entity.row_version IS 'Optimistic-concurrency version: 1 on insert, +1 on every update (enforced by trigger).';
COMMENT ON COLUMN entity.etag IS 'Opaque validator derived from identity, created_at and row_version (computed by trigger).';

-- Why entity identity goes into the etag: two different entities at the same version must not share an etag,
-- and an entity purged and created again (new created_at) must not reuse the etags of its first life.
CREATE FUNCTION deltasync_etag(p_scope text, p_entity_type text, p_entity_id text, p_row_version bigint,
                               p_created_at timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT AS
$$
SELECT p_row_version::text || '-' || substr(encode(sha256(convert_to(
    p_scope || chr(31) || p_entity_type || chr(31) || p_entity_id || chr(31) || p_row_version::text || chr(31)
        || (extract(epoch FROM p_created_at) * 1000000)::bigint::text, 'UTF8')), 'hex'), 1, 16)
$$;

CREATE FUNCTION deltasync_entity_stamp() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    actor text := nullif(current_setting('deltasync.client_id', true), '');
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.row_version := 1;
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

CREATE TRIGGER entity_stamp
    BEFORE INSERT OR UPDATE ON entity
    FOR EACH ROW EXECUTE FUNCTION deltasync_entity_stamp();

-- The change log. Cursor = (tx_id, change_id) of the last row delivered. A reader only returns rows with
-- tx_id < pg_snapshot_xmin(pg_current_snapshot()): every transaction below that xmin has finished, and any
-- transaction still running or not yet started has an id >= xmin, so no row can later appear behind a cursor
-- (the "cursor gap" of identity columns, which are assigned at insert, not at commit).
CREATE TABLE change_log (
    change_id        bigint GENERATED ALWAYS AS IDENTITY,
    tx_id            bigint      NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    scope            text        NOT NULL,
    entity_type      text        NOT NULL,
    entity_id        text        NOT NULL,
    operation        text        NOT NULL,
    row_version      bigint      NOT NULL,
    etag             text        NOT NULL,
    data             jsonb,
    sync_status      text        NOT NULL,
    conflict_data    jsonb,
    is_deleted       boolean     NOT NULL,
    last_modified_at timestamptz NOT NULL,
    last_modified_by text        NOT NULL,
    created_at       timestamptz NOT NULL,
    client_id        text,
    delta_id         text,
    CONSTRAINT change_log_pk PRIMARY KEY (change_id),
    CONSTRAINT change_log_operation_known CHECK (operation IN ('create', 'update', 'delete'))
);

COMMENT ON TABLE change_log IS 'Every change to entity, appended by trigger in the writing transaction; read in (tx_id, change_id) order below the snapshot xmin.';
COMMENT ON COLUMN change_log.tx_id IS 'pg_current_xact_id() of the writing transaction (xid8 as bigint).';

CREATE INDEX change_log_position ON change_log (tx_id, change_id);

CREATE FUNCTION deltasync_entity_log_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    op text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('deltasync.purging', true) = 'on' THEN
            RETURN OLD;  -- purging a tombstone clients have already seen: nothing new to tell them
        END IF;
        -- A physical delete by another service: clients must still learn the entity is gone.
        INSERT INTO change_log (scope, entity_type, entity_id, operation, row_version, etag, data, sync_status,
                                conflict_data, is_deleted, last_modified_at, last_modified_by, created_at,
                                client_id, delta_id)
        VALUES (OLD.scope, OLD.entity_type, OLD.entity_id, 'delete', OLD.row_version + 1,
                deltasync_etag(OLD.scope, OLD.entity_type, OLD.entity_id, OLD.row_version + 1, OLD.created_at),
                NULL, 'synced', NULL, true, clock_timestamp(),
                coalesce(nullif(current_setting('deltasync.client_id', true), ''), session_user), OLD.created_at,
                nullif(current_setting('deltasync.client_id', true), ''),
                nullif(current_setting('deltasync.delta_id', true), ''));
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' THEN
        op := CASE WHEN NEW.is_deleted THEN 'delete' ELSE 'create' END;
    ELSIF NEW.is_deleted AND NOT OLD.is_deleted THEN
        op := 'delete';
    ELSIF OLD.is_deleted AND NOT NEW.is_deleted THEN
        op := 'create';  -- created again over its tombstone
    ELSE
        op := 'update';
    END IF;
    INSERT INTO change_log (scope, entity_type, entity_id, operation, row_version, etag, data, sync_status,
                            conflict_data, is_deleted, last_modified_at, last_modified_by, created_at,
                            client_id, delta_id)
    VALUES (NEW.scope, NEW.entity_type, NEW.entity_id, op, NEW.row_version, NEW.etag,
            CASE WHEN NEW.is_deleted THEN NULL ELSE NEW.data END, NEW.sync_status, NEW.conflict_data,
            NEW.is_deleted, NEW.last_modified_at, NEW.last_modified_by, NEW.created_at,
            nullif(current_setting('deltasync.client_id', true), ''),
            nullif(current_setting('deltasync.delta_id', true), ''));
    RETURN NEW;
END
$$;

CREATE TRIGGER entity_log_change
    AFTER INSERT OR UPDATE OR DELETE ON entity
    FOR EACH ROW EXECUTE FUNCTION deltasync_entity_log_change();

-- Idempotency: (client_id, delta_id) -> the result first returned. The row is inserted first in the applying
-- transaction (a concurrent retry blocks on it, then reads the committed result) and completed before commit.
CREATE TABLE applied_delta (
    client_id    text        NOT NULL,
    delta_id     text        NOT NULL,
    delta_digest bytea       NOT NULL,
    result       bytea,
    applied_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT applied_delta_pk PRIMARY KEY (client_id, delta_id)
);

COMMENT ON TABLE applied_delta IS 'Result of every delta that reached the database, keyed by (client_id, delta_id), so a retry is answered, not applied again.';
COMMENT ON COLUMN applied_delta.delta_digest IS 'SHA-256 of the delta as first received: the same delta_id with other content is refused, not answered with a stale result.';
COMMENT ON COLUMN applied_delta.result IS 'Serialized deltasync.v1.DeltaResult.';

CREATE INDEX applied_delta_applied_at ON applied_delta (applied_at);

-- The cursor epoch: part of every cursor. It changes when the change log's transaction ids stop being
-- comparable with new ones (the database was restored into another cluster), so old cursors get "resync".
CREATE TABLE sync_epoch (
    singleton  boolean     NOT NULL DEFAULT true,
    epoch      bigint      NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT sync_epoch_pk PRIMARY KEY (singleton),
    CONSTRAINT sync_epoch_single_row CHECK (singleton)
);

INSERT INTO sync_epoch (epoch) VALUES ((random() * 9007199254740991)::bigint + 1);

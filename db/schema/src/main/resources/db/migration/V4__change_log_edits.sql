-- deltasync schema v4: the change log keeps the operational-transform edits of each change made with edits, so a
-- later delta based on an older version can be transformed against them (docs/operational-transform.md).

-- A JSON array of deltasync.v1.EditOperation messages in their proto3 JSON form (com.google.protobuf.util.JsonFormat),
-- the edits as applied (after any transform). NULL for every change not made with edits: whole-data writes,
-- creates, deletes, conflict-state writes, and plain-SQL writes by other services.
ALTER TABLE change_log ADD COLUMN edits jsonb;

COMMENT ON COLUMN change_log.edits IS 'JSON array of deltasync.v1.EditOperation (proto3 JSON) applied by this change; NULL when the change was not made with edits.';

-- The application passes the edits in the transaction-local setting deltasync.edits (set_config(..., true)) next to
-- deltasync.client_id and deltasync.delta_id; unset or '' means NULL. Identical to V1's function but for the new
-- column: a physical delete has no edits.
CREATE OR REPLACE FUNCTION deltasync_entity_log_change() RETURNS trigger
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
                            client_id, delta_id, edits)
    VALUES (NEW.scope, NEW.entity_type, NEW.entity_id, op, NEW.row_version, NEW.etag,
            CASE WHEN NEW.is_deleted THEN NULL ELSE NEW.data END, NEW.sync_status, NEW.conflict_data,
            NEW.is_deleted, NEW.last_modified_at, NEW.last_modified_by, NEW.created_at,
            nullif(current_setting('deltasync.client_id', true), ''),
            nullif(current_setting('deltasync.delta_id', true), ''),
            nullif(current_setting('deltasync.edits', true), '')::jsonb);
    RETURN NEW;
END
$$;

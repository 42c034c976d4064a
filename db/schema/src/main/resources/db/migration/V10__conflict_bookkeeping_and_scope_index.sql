-- deltasync schema v10: conflict bookkeeping is not a new version, and catch-up by scope has its own index.

-- 1. Queuing a conflict for manual resolution records it on the entity (sync_status 'conflict' and a bounded
--    summary in conflict_data) without making a new version. It used to bump row_version like any write, so every
--    other client's next delta based on the version it held missed its compare-and-set too and was queued in turn,
--    each queuing bumping the version again: one conflict snowballed into one for every writer of the entity.
--    A writer that sets the transaction-local setting deltasync.bookkeeping to 'on' and changes neither data nor
--    is_deleted keeps row_version, etag, last_modified_at and last_modified_by as they are (the clocks already stay:
--    V5). Such an update is not a change clients could apply (they keep the highest row_version they hold and skip
--    the rest), so it is not logged either: the change log stays one row per version. The server sets the setting
--    around its bookkeeping statement only; every other update, plain-SQL ones included, still makes a version.
--    A separate trigger, named to fire after entity_stamp and entity_stamp_clocks (BEFORE triggers fire in name
--    order), so the stamping functions stay as they are.
CREATE FUNCTION deltasync_entity_keep_version_for_bookkeeping() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF current_setting('deltasync.bookkeeping', true) = 'on'
        AND NEW.data IS NOT DISTINCT FROM OLD.data AND NEW.is_deleted = OLD.is_deleted THEN
        NEW.row_version := OLD.row_version;
        NEW.etag := OLD.etag;
        NEW.last_modified_at := OLD.last_modified_at;
        NEW.last_modified_by := OLD.last_modified_by;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER entity_stamp_keep_version_for_bookkeeping
    BEFORE UPDATE ON entity
    FOR EACH ROW EXECUTE FUNCTION deltasync_entity_keep_version_for_bookkeeping();

-- The log trigger is split so that an update that kept its version is not logged; the function is unchanged.
DROP TRIGGER entity_log_change ON entity;

CREATE TRIGGER entity_log_change
    AFTER INSERT OR DELETE ON entity
    FOR EACH ROW EXECUTE FUNCTION deltasync_entity_log_change();

CREATE TRIGGER entity_log_change_update
    AFTER UPDATE ON entity
    FOR EACH ROW WHEN (OLD.row_version IS DISTINCT FROM NEW.row_version)
    EXECUTE FUNCTION deltasync_entity_log_change();

-- 2. Catch-up of a subscription to some scopes (Sync streams, Pull with scopes) reads "after this position, in these
--    scopes, in (tx_id, change_id) order". With only change_log_position (tx_id, change_id) PostgreSQL walks the
--    whole log tail after the cursor and throws away the other scopes' rows; this index reads only the scope's rows,
--    already in order (one scope), or a bitmap of them (several). It also serves the checksum's "what changed in the
--    scope after this position". Built in the migration's transaction: on a large existing change_log, create it
--    beforehand with CREATE INDEX CONCURRENTLY under this name, and this statement is skipped.
CREATE INDEX IF NOT EXISTS change_log_scope_position ON change_log (scope, tx_id, change_id);

-- The change-log trigger of updates joins its transition tables by nested loop for a few rows and by hash join for
-- many (issue 11, ninth part).
--
-- V24 turned nested loops off for the whole of deltasync_entity_log_writes (a SET clause on the function), because
-- PL/pgSQL caches the plan of the trigger's INSERT ... SELECT per session, sized for the transition tables of the
-- statement it was made for: after a few one-row updates it was a nested loop, and a later update of n rows then
-- compared n x n rows (81 ms for 500 rows). But a one-row update then paid for a 1x1 hash join: about 5 us more in
-- the trigger per one-row UPDATE (36 -> 41 us, docs/performance.md "Ninth part"; 10-40% of a bare one-row UPDATE in
-- a review's DO loop), and one-row compare-and-set updates are what every single delta and most plain-SQL writers
-- run (with the two statements below: 37 us, the 8-row check included).
--
-- Now the function has no SET clause and logs an update through one of two statements, each with its own cached
-- plan: a statement of at most 8 rows (a cheap bound: is there a 9th row in the NEW transition table) through the
-- first, planned as PostgreSQL chooses (a nested loop: at most 8 x 8 comparisons), any larger one through the
-- second, which always runs with enable_nestloop off for the transaction (set_config(..., true)) and puts back the
-- value it found before returning, so all of its plans, cached or re-made, are hash joins. The caller's setting is
-- never changed once the function has returned: the value is put back in the same transaction, and if the
-- statement fails, the transaction or savepoint it fails in rolls the setting back with it.
--
-- Keep it so: CREATE OR REPLACE FUNCTION replaces a function's settings with the new definition's own, so a later
-- migration that redefines this function must keep both statements and the set_config pair (or repeat V24's SET
-- clause and pay the one-row cost again), and must keep the settings a deployment gave the function (below).
-- ChangeLogUpdatePlanIT checks both plans; ChangeLogUpdateRowsIT the logged rows at every size, that the caller's
-- setting is unchanged, and that a deployment's own setting survives the upgrade.

-- The function's settings other than V24's enable_nestloop, which CREATE OR REPLACE would drop: a deployment may
-- have hardened it (ALTER FUNCTION ... SET search_path = public, pg_temp, so that a session's temporary or another
-- schema's change_log cannot capture the log). Put back after the new definition.
CREATE TEMP TABLE deltasync_v25_kept_settings ON COMMIT DROP AS
SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS value
FROM pg_proc p, unnest(p.proconfig) c
WHERE p.oid = 'deltasync_entity_log_writes()'::regprocedure AND c NOT LIKE 'enable\_nestloop=%';

CREATE OR REPLACE FUNCTION deltasync_entity_log_writes() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    setting_client text := nullif(current_setting('deltasync.client_id', true), '');
    setting_delta  text := nullif(current_setting('deltasync.delta_id', true), '');
    setting_edits  jsonb := nullif(current_setting('deltasync.edits', true), '')::jsonb;
    nestloop       text;
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
    ELSIF NOT EXISTS (SELECT FROM written OFFSET 8) THEN
        -- At most 8 rows: the plan PostgreSQL makes for such tables (a nested loop) is the cheap one.
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
    ELSE
        -- More rows: never a nested loop, whatever size the cached plan was made for.
        nestloop := current_setting('enable_nestloop');
        PERFORM set_config('enable_nestloop', 'off', true);
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
        ORDER BY n.last_modified_at;
        PERFORM set_config('enable_nestloop', nestloop, true);
    END IF;
    RETURN NULL;
END
$$;

-- Each kept setting through PostgreSQL's own parser (SET ... FROM CURRENT: a list such as search_path's stays a
-- list), then the migration's own value back.
DO $kept$
DECLARE
    kept record;
    was  text;
BEGIN
    FOR kept IN SELECT name, value FROM deltasync_v25_kept_settings LOOP
        was := current_setting(kept.name, true);
        PERFORM set_config(kept.name, kept.value, true);
        EXECUTE format('ALTER FUNCTION deltasync_entity_log_writes() SET %I FROM CURRENT', kept.name);
        PERFORM set_config(kept.name, was, true);
    END LOOP;
END
$kept$;

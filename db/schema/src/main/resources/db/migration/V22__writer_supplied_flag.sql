-- deltasync schema v22: a deltasync write is recognised by a flag the server sets on the row, not by a new
-- (writer_client_id, writer_delta_id) pair.
--
-- V14 let a row supply its writer (client, delta, clock) and took an UPDATE for a deltasync write only when the pair
-- (writer_client_id, writer_delta_id) differed from the old row's, "because a delta is applied once". It is not
-- always: a client may use a delta id again once its idempotency record has expired (docs/protocol.md), and when
-- that update hits the entity the id's earlier use wrote, the pair is the one already stored. The trigger then took
-- the write for plain SQL: last_modified_by became the database user, the change log lost client and delta (own-
-- change suppression broke), and a batch's write could not be matched to its delta (PlainWrites joins the written
-- rows on writer_delta_id), so the delta was reported as a miss and the conflict policy ran on an entity it had
-- already written: answered CONFLICT or SERVER_WON although applied, and written a second time under client-wins.
--
-- Why not (writer_client_id, writer_delta_id, write_clock_us): write_clock_us is the delta's client_modified_at
-- (capped at the server's clock plus the allowed skew, WriteClock.of), chosen by the client. Two uses of one delta
-- id can carry the same one (a client that sends a fixed or coarse time, or re-sends the same delta), so it cannot
-- tell the two writes apart either. A random nonce kept in the row would work only as long as no two nonces repeat
-- for a row, and a stored value is what a plain-SQL writer could copy from another row.
--
-- The discriminator is entity.writer_supplied, a flag that is never stored: every server statement that carries
-- its writer in the row (SingleWrites, PlainWrites) sets it to true, and the stamping trigger reads it and always
-- stores NULL. A plain-SQL UPDATE that does not name the column gets the old row's value, which is NULL, so it is
-- still recognised as plain SQL; no two writes can collide, whatever their ids and clocks. (A plain-SQL writer that
-- copies rows between tables copies NULL, too.)
--
-- The rule of V14 still holds next to the flag (a row whose pair differs from the old row's supplies its writer),
-- so a node built before this migration, whose statements do not set the flag, keeps writing correctly while nodes
-- are upgraded one by one (with V14's limit for a reused id). Everything else in the function is V14's.
ALTER TABLE entity ADD COLUMN writer_supplied boolean;

COMMENT ON COLUMN entity.writer_supplied IS 'Always NULL when stored. Set to true by a statement that supplies the writer in the row (writer_client_id, writer_delta_id, write_clock_us); the stamping trigger then takes the writer from the row even when the pair equals the old row''s, and clears it (V22).';

CREATE OR REPLACE FUNCTION deltasync_entity_stamp() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    supplied boolean;
    flagged  boolean := coalesce(NEW.writer_supplied, false);  -- V22
    actor    text;
    clock    bigint;
    stamp    jsonb;
BEGIN
    NEW.writer_supplied := NULL;  -- V22: read once, never stored
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
        -- V22: flagged, or (V14) a pair other than the old row's.
        supplied := NEW.writer_delta_id IS NOT NULL
            AND (flagged OR (NEW.writer_client_id, NEW.writer_delta_id)
                            IS DISTINCT FROM (OLD.writer_client_id, OLD.writer_delta_id));
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

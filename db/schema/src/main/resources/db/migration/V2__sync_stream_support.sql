-- deltasync schema v2: what the Sync stream needs.

-- 1. A wake-up hint for change-feed readers. NOTIFY is delivered at commit, collapsed per transaction (same
--    channel and payload), and lost when nobody listens: readers also poll, so it only ever saves latency.
CREATE OR REPLACE FUNCTION deltasync_notify_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('deltasync_change_log', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER change_log_notify
    AFTER INSERT ON change_log
    FOR EACH STATEMENT EXECUTE FUNCTION deltasync_notify_change();

-- 2. Per-client sync status, for GetStatus: the last cursor a client acknowledged and when it was last heard.
CREATE TABLE client_sync_status (
    client_id         text        NOT NULL,
    last_ack_cursor   text,
    last_ack_tx_id    bigint,
    last_ack_change_id bigint,
    last_seen_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT client_sync_status_pk PRIMARY KEY (client_id)
);

COMMENT ON TABLE client_sync_status IS 'Per-client sync progress reported by the Sync stream: last acknowledged cursor, last contact.';

-- 3. How far back the change log is complete. Clean-up of old history moves this forward; a client whose cursor
--    is before it cannot be caught up change by change and is told to resync from current state.
ALTER TABLE sync_epoch
    ADD COLUMN history_floor_tx_id     bigint NOT NULL DEFAULT -9223372036854775808,
    ADD COLUMN history_floor_change_id bigint NOT NULL DEFAULT 0;

COMMENT ON COLUMN sync_epoch.history_floor_tx_id IS 'Cursors before (history_floor_tx_id, history_floor_change_id) must resync: older changes may have been purged.';

-- The scopes a client could read when it last opened (or refreshed) a Sync stream, as a digest. A stream resuming
-- from a cursor under other grants is told to resync: a scope added since then (or lost and regained) would
-- otherwise never deliver its current state or the changes made while it was not granted, because the cursor
-- already moved past them. Written directly at hello and refresh (not coalesced like last_seen_at).
ALTER TABLE client_sync_status ADD COLUMN grants_digest text;

COMMENT ON COLUMN client_sync_status.grants_digest IS
    'SHA-256 of the readable scope patterns the client last synced under; NULL before authentication recorded any.';

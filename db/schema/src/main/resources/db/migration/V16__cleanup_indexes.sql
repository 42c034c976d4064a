-- Clean-up (issue 13) deletes old rows in small batches, oldest first. Each batch must find its rows through an index,
-- never by scanning the whole table, so that a batch stays short on a big table. The change log is purged by position
-- (change_log_position) and applied_delta by applied_at (applied_delta_applied_at); these are the other three.
-- Built in the migration's transaction: on a large existing table, create them beforehand with CREATE INDEX
-- CONCURRENTLY under these names, and these statements are skipped.

-- Tombstones by age: partial, so it holds only deleted rows (few, and none once clean-up keeps up).
CREATE INDEX IF NOT EXISTS entity_tombstone_age ON entity (last_modified_at) WHERE is_deleted;

-- Resolved conflicts by resolution time (open ones have their own partial indexes, V3).
CREATE INDEX IF NOT EXISTS conflict_resolved_age ON conflict (resolved_at) WHERE resolved_at IS NOT NULL;

-- Client status rows by last contact.
CREATE INDEX IF NOT EXISTS client_sync_status_last_seen ON client_sync_status (last_seen_at);

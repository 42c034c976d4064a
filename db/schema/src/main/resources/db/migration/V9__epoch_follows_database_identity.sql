-- deltasync schema v9: the cursor epoch follows the database's identity and timeline.
--
-- A promoted replica, a point-in-time recovery or a restored snapshot hands out transaction ids again behind
-- cursors already delivered (DESIGN-NOTES §1). The server records which cluster (pg_control_system's system
-- identifier) and which timeline (pg_control_checkpoint's timeline_id) the epoch was started on; when it finds
-- the database on another one at start-up or after losing its connection, it starts a new epoch and every client
-- holding an older cursor is told to resync. NULL: not known yet (recorded at the next start), or not readable
-- with the server's privileges (PostgreSQL lets every role execute pg_control_system and pg_control_checkpoint
-- unless an administrator revoked it; then the server logs a warning and relies on its other checks, see
-- docs/protocol.md "Cursors after a failover or restore").
ALTER TABLE sync_epoch
    ADD COLUMN system_identifier bigint,
    ADD COLUMN timeline_id       bigint;

COMMENT ON COLUMN sync_epoch.system_identifier IS 'pg_control_system().system_identifier of the cluster the epoch was started on (NULL: unknown).';
COMMENT ON COLUMN sync_epoch.timeline_id IS 'Timeline the epoch was started on (NULL: unknown).';

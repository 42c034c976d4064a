-- deltasync schema v7: write throughput (issue 11).

-- 1. No NOTIFY in a write transaction. A transaction that has called NOTIFY takes PostgreSQL's global notification
--    lock at commit and holds it through its WAL flush (PreCommit_Notify in async.c), so every commit that touched
--    entity -- deltasync's and other services' plain SQL alike -- was serialized behind one lock, and group commit
--    stopped helping. The server now wakes its own change-feed reader in-process after each commit, sends at most
--    one coalesced NOTIFY per 50 ms from a dedicated connection for other nodes, and polls for plain-SQL writers
--    (worst-case latency: DELTASYNC_FEED_POLL_MILLIS). The function stays for anyone who calls it; no trigger does.
DROP TRIGGER change_log_notify ON change_log;

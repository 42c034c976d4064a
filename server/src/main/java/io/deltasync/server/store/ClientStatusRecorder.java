package io.deltasync.server.store;

import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Coalesces the per-client bookkeeping GetStatus reports ("last seen", the last acknowledged cursor): at most one
 * write per client per {@link #INTERVAL}, all pending clients in one statement, committed with
 * {@code synchronous_commit = off}. That bookkeeping is for humans and dashboards, never for correctness (a client
 * resumes from the cursor it holds, not from this row), so it need not cost a durable commit each: a crash of the
 * database loses at most a few seconds of it (the last interval, plus what PostgreSQL's WAL writer had not yet
 * flushed, about three times wal_writer_delay), and a crash of the server loses what was still pending here.
 */
final class ClientStatusRecorder {
  private static final Logger log = LoggerFactory.getLogger(ClientStatusRecorder.class);
  static final long INTERVAL_MILLIS = 1_000;

  /** One thread for every store of the process: flushing is a short statement a second. */
  private static final ScheduledExecutorService FLUSHER = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("deltasync-client-status").daemon().factory());

  /** What is pending for one client: when it was last heard from, and the newest ack (null if none). */
  private record Pending(long seenAtMillis, String ackCursor, Position ack) {
    Pending merge(Pending newer) {
      boolean newerAck = newer.ack() != null && (ack == null || newer.ack().compareTo(ack) > 0);
      return new Pending(Math.max(seenAtMillis, newer.seenAtMillis()), newerAck ? newer.ackCursor() : ackCursor,
          newerAck ? newer.ack() : ack);
    }
  }

  private final DSLContext dsl;
  private final Object lock = new Object();
  // Sorted by client id: every flush locks its rows in the same order, so two nodes flushing cannot deadlock.
  private Map<String, Pending> pending = new TreeMap<>();
  private boolean scheduled;

  ClientStatusRecorder(DSLContext dsl) {
    this.dsl = dsl;
  }

  void seen(String clientId) {
    add(clientId, new Pending(System.currentTimeMillis(), null, null));
  }

  void acked(String clientId, String wireCursor, Position acked) {
    add(clientId, new Pending(System.currentTimeMillis(), wireCursor, acked));
  }

  private void add(String clientId, Pending update) {
    synchronized (lock) {
      pending.merge(clientId, update, Pending::merge);
      if (!scheduled) {
        scheduled = true;
        FLUSHER.schedule(this::scheduledFlush, INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
      }
    }
  }

  private void scheduledFlush() {
    synchronized (lock) {
      scheduled = false;
    }
    try {
      flush();
    } catch (RuntimeException e) {
      log.debug("Could not record client status ({}); trying again later", e.toString());
    }
  }

  /** Writes everything pending now (GetStatus calls this first, so a node reports what it has been told). */
  void flush() {
    Map<String, Pending> batch;
    synchronized (lock) {
      if (pending.isEmpty()) {
        return;
      }
      batch = pending;
      pending = new TreeMap<>();
    }
    try {
      write(batch);
    } catch (RuntimeException e) {
      synchronized (lock) {
        batch.forEach((clientId, p) -> pending.merge(clientId, p, Pending::merge));
        if (!scheduled) {
          scheduled = true;
          FLUSHER.schedule(this::scheduledFlush, INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
        }
      }
      throw e;
    }
  }

  private void write(Map<String, Pending> batch) {
    var ids = new ArrayList<String>();
    var seen = new ArrayList<Long>();
    var cursors = new ArrayList<String>();
    var txIds = new ArrayList<Long>();
    var changeIds = new ArrayList<Long>();
    batch.forEach((clientId, p) -> {
      ids.add(clientId);
      seen.add(p.seenAtMillis());
      cursors.add(p.ackCursor());
      txIds.add(p.ack() == null ? null : p.ack().txId());
      changeIds.add(p.ack() == null ? null : p.ack().changeId());
    });
    dsl.transaction(configuration -> {
      DSLContext tx = DSL.using(configuration);
      tx.execute("SET LOCAL synchronous_commit = off");
      // One statement for every pending client; an ack only ever moves a cursor forward.
      tx.execute("""
          INSERT INTO client_sync_status AS s
              (client_id, last_seen_at, last_ack_cursor, last_ack_tx_id, last_ack_change_id)
          SELECT u.client_id, to_timestamp(u.seen_ms / 1000.0), u.cursor, u.tx_id, u.change_id
          FROM unnest(?::text[], ?::bigint[], ?::text[], ?::bigint[], ?::bigint[])
              AS u(client_id, seen_ms, cursor, tx_id, change_id)
          ON CONFLICT (client_id) DO UPDATE SET
              last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at),
              last_ack_cursor = CASE WHEN excluded.last_ack_tx_id IS NOT NULL AND (s.last_ack_tx_id IS NULL
                      OR (s.last_ack_tx_id, s.last_ack_change_id) < (excluded.last_ack_tx_id, excluded.last_ack_change_id))
                  THEN excluded.last_ack_cursor ELSE s.last_ack_cursor END,
              last_ack_change_id = CASE WHEN excluded.last_ack_tx_id IS NOT NULL AND (s.last_ack_tx_id IS NULL
                      OR (s.last_ack_tx_id, s.last_ack_change_id) < (excluded.last_ack_tx_id, excluded.last_ack_change_id))
                  THEN excluded.last_ack_change_id ELSE s.last_ack_change_id END,
              last_ack_tx_id = CASE WHEN excluded.last_ack_tx_id IS NOT NULL AND (s.last_ack_tx_id IS NULL
                      OR (s.last_ack_tx_id, s.last_ack_change_id) < (excluded.last_ack_tx_id, excluded.last_ack_change_id))
                  THEN excluded.last_ack_tx_id ELSE s.last_ack_tx_id END
          """, ids.toArray(String[]::new), seen.toArray(Long[]::new), cursors.toArray(String[]::new),
          txIds.toArray(Long[]::new), changeIds.toArray(Long[]::new));
    });
  }
}

package io.deltasync.server.changefeed;

import com.google.protobuf.Timestamp;
import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.ErrorReason;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Reads changes after a cursor, in commit order, and hands out the cursors to resume from. Every cursor carries the
 * epoch and a fingerprint of the history it was handed out in ({@link Cursor}), and {@link #resolve} refuses one
 * that this database's history does not contain: from another epoch, from before the history floor, from the
 * future (at or past the watermark), or with a fingerprint that no longer matches.
 */
public final class ChangeFeed {
  // Frontier positions are shared by many sessions (every live page has one); remembering the newest few saves a
  // query per session per page.
  private static final int REMEMBERED_ANCHORS = 256;

  private final SyncStore store;
  private final ReentrantLock anchorsLock = new ReentrantLock();
  private final Map<Position, Long> anchors = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Position, Long> eldest) {
      return size() > REMEMBERED_ANCHORS;
    }
  };
  private volatile long epoch;

  /**
   * A page of changes.
   *
   * @param changes the changes, each carrying its own cursor
   * @param next where to resume: after the last change, or further when the read saw that nothing else matching
   *     can appear before that point
   * @param hasMore whether more changes are already available after {@code next}
   */
  public record Page(List<Change> changes, Cursor next, boolean hasMore) {}

  /** Creates the feed for the store's current epoch. */
  public ChangeFeed(SyncStore store, long epoch) {
    this.store = store;
    this.epoch = epoch;
  }

  /** The change-log epoch cursors of this feed belong to. */
  public long epoch() {
    return epoch;
  }

  /** The store the feed reads. */
  public SyncStore store() {
    return store;
  }

  /** The position before the first change. */
  public Cursor start() {
    return Cursor.start(epoch);
  }

  /**
   * The database went back in time under this server (restored, or failed over to a replica that had not received
   * everything): positions already handed out may be handed out again for other changes. Starts a new epoch (the
   * same one every node that notices agrees on), so every older cursor is answered with resync.
   *
   * @param via the store to write through (the live reader's own connection: it must not wait for the pool)
   */
  public void historyReset(SyncStore via) {
    epoch = via.replaceEpoch(epoch);
    clearAnchors();
  }

  /**
   * Whether the change history this node serves is gone: another node already started a new epoch (this node then
   * takes it), or the database is another one than the epoch was started on (a replica promoted, a backup restored
   * into another cluster or onto another timeline while the server ran; this node then starts a new epoch). True if
   * the epoch changed: positions handed out before are void and streams must end.
   *
   * @param via the store to read through (the live reader's own connection: it must not wait for the pool)
   */
  public boolean checkIdentity(SyncStore via) {
    long stored = via.epoch();
    if (stored != epoch) {
      // Another node noticed first and started the new epoch: take it, with the same consequences here.
      epoch = stored;
      clearAnchors();
      return true;
    }
    if (SyncStore.moved(via.epochIdentity(), via.identity())) {
      historyReset(via);
      return true;
    }
    return false;
  }

  private void clearAnchors() {
    anchorsLock.lock();
    try {
      anchors.clear();
    } finally {
      anchorsLock.unlock();
    }
  }

  /**
   * Turns a client's wire cursor into a position of this epoch (empty = the start of the change log).
   *
   * @throws DeltaSyncException INVALID_ARGUMENT (INVALID_CURSOR) if it is not a cursor, FAILED_PRECONDITION
   *     (RESYNC_REQUIRED) if it belongs to another epoch of the change log, to history already purged, or to a
   *     history this database does not hold (restored or failed over), or if it is a position inside an initial
   *     state served by Pull ({@link Cursor.InInitialState}: see {@link #resolveInInitialState})
   */
  public Cursor resolve(String wireCursor, String field) {
    Optional<Cursor.InInitialState> inInitialState = Cursor.InInitialState.decode(wireCursor);
    if (inInitialState.isPresent()) {
      requireEpoch(inInitialState.get().at());
      // Its holder has part of a current state and none of the deletes before the handover: only a fresh start
      // (which the stream's own initial state is, after resync) leaves it with no stale entity.
      throw resyncRequired("the cursor is a position inside an initial state that Pull was downloading, which only "
          + "Pull continues", Map.of());
    }
    return served(acknowledged(wireCursor, field));
  }

  /**
   * Pull: where an initial-state download (a {@link Cursor.InInitialState} cursor) continues, after the same checks
   * as {@link #resolve} applied to its hand-over position; empty if {@code wireCursor} is not of that format.
   *
   * @throws DeltaSyncException FAILED_PRECONDITION (RESYNC_REQUIRED) if the hand-over position is no longer served:
   *     clean-up raised the history floor past it during the download, or it belongs to another epoch or history
   */
  public Optional<Cursor.InInitialState> resolveInInitialState(String wireCursor) {
    Optional<Cursor.InInitialState> inInitialState = Cursor.InInitialState.decode(wireCursor);
    inInitialState.ifPresent(cursor -> served(requireEpoch(cursor.at())));
    return inInitialState;
  }

  /** Whether clean-up has purged the start of the change log (the history floor is above the start). */
  public boolean historyPurged() {
    return store.historyFloor().compareTo(Position.START) > 0;
  }

  private Cursor served(Cursor cursor) {
    if (cursor.position().compareTo(store.historyFloor()) < 0) {
      throw resyncRequired("the cursor is older than the change history the server keeps (tombstone retention)",
          Map.of());
    }
    // Every position handed out lies below the watermark of its time, and the watermark never goes back in one
    // history: a cursor at or past today's watermark comes from a history this database has lost.
    if (cursor.txId() != Long.MIN_VALUE && cursor.txId() >= store.watermark()) {
      throw resyncRequired("the cursor is ahead of this database's history (it was restored or failed over)",
          Map.of());
    }
    if (!historyMatches(cursor)) {
      throw resyncRequired("the change history before the cursor is not the one it was handed out in (the "
          + "database was restored or failed over)", Map.of());
    }
    return cursor;
  }

  /**
   * A cursor a client acknowledges: one of ours, of this epoch. Acknowledgements are advisory (GetStatus), so they
   * are not checked against the history the way a resume is ({@link #resolve}), which would cost three queries per
   * ack on the stream's hot path.
   *
   * @throws DeltaSyncException INVALID_ARGUMENT (INVALID_CURSOR) if it is not a cursor, FAILED_PRECONDITION
   *     (RESYNC_REQUIRED) if it belongs to another epoch
   */
  public Cursor acknowledged(String wireCursor, String field) {
    Optional<Cursor.InInitialState> inInitialState = Cursor.InInitialState.decode(wireCursor);
    if (inInitialState.isPresent()) {
      // Part of an initial state is no position in the change log yet: acknowledged as the start, like an empty ack.
      requireEpoch(inInitialState.get().at());
      return start();
    }
    Cursor cursor = wireCursor.isEmpty() ? start() : Cursor.decode(wireCursor).orElseThrow(() ->
        new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_CURSOR,
            List.of(Errors.violation(field, "not a cursor issued by this server (pass back a Change.cursor or "
                + "PullResponse.next_cursor unchanged, or empty to start from the beginning)")))));
    return requireEpoch(cursor);
  }

  private Cursor requireEpoch(Cursor cursor) {
    long current = epoch;
    if (cursor.epoch() != current) {
      throw resyncRequired("the cursor belongs to an earlier epoch of the change log (the database was restored "
          + "or failed over)", Map.of("cursor_epoch", Long.toString(cursor.epoch()),
              "server_epoch", Long.toString(current)));
    }
    return cursor;
  }

  /**
   * Whether the history before the cursor is the one it was handed out in. Read from the database, never from the
   * remembered fingerprints: those could predate a restore. A position with no row left at or before it (clean-up
   * purged its anchor below the history floor) cannot be checked and is accepted.
   */
  private boolean historyMatches(Cursor cursor) {
    if (cursor.anchor() == Cursor.UNCHECKED || cursor.txId() == Long.MIN_VALUE) {
      return true;
    }
    var now = store.anchorAt(cursor.position());
    return now.isEmpty() || now.getAsLong() == cursor.anchor();
  }

  private static DeltaSyncException resyncRequired(String why, Map<String, String> metadata) {
    return new DeltaSyncException(Errors.status(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_RESYNC_REQUIRED,
        "resync required: " + why + "; discard local state and sync again from an empty cursor", metadata));
  }

  /** The position after everything every reader can see now (the watermark). */
  public Position visible() {
    return store.visiblePosition();
  }

  /**
   * Reads up to {@code limit} changes after {@code after} that pass the filter, with their positions (cursors not
   * set: see {@link #withCursor}); the page's frontier tells where to read next.
   */
  public ChangePage readPage(Position after, int limit, ChangeFilter filter) {
    ChangePage page = store.readChanges(after, limit, filter);
    requireKeptAfter(after);
    return page;
  }

  /**
   * As {@link #readPage(Position, int, ChangeFilter)}, with the read bounded by bytes in the query as well (the
   * stream's catch-up): rows while their estimated size stays within {@code maxBytes}, always at least one; each
   * change has its cursor set (as {@link #withCursor} would).
   */
  public ChangePage readPage(Position after, int limit, long maxBytes, ChangeFilter filter) {
    ChangePage page = store.readChanges(after, limit, maxBytes, filter,
        (position, anchor) -> Cursor.at(epoch, position, anchor).encode());
    requireKeptAfter(after);
    return page;
  }

  /**
   * Clean-up raises the history floor (committed) before it deletes anything below it. Checked after a read: if the
   * floor is still below {@code after} now, it was when the read ran, so the read saw every entry; if it is above,
   * entries after {@code after} may have gone mid-catch-up, and the client must resync.
   */
  private void requireKeptAfter(Position after) {
    if (after.compareTo(store.historyFloor()) < 0) {
      throw resyncRequired("the change history after the cursor was cleaned up while it was being read", Map.of());
    }
  }

  /**
   * A page of the current state: the live entities matching {@code include} but not {@code except}, in key order
   * after {@code after} (null = from the start), as create changes (see {@link SyncStore#readInitialState}).
   */
  public List<Change> initialState(ChangeFilter include, ChangeFilter except, io.deltasync.server.store.EntityKey after,
      int limit) {
    return store.readInitialState(include, except, after, limit);
  }

  /** As {@link #initialState(ChangeFilter, ChangeFilter, io.deltasync.server.store.EntityKey, int)}, bounded by bytes. */
  public SyncStore.StatePage initialState(ChangeFilter include, ChangeFilter except,
      io.deltasync.server.store.EntityKey after, int limit, long maxBytes) {
    return store.readInitialState(include, except, after, limit, maxBytes);
  }

  /** A page of the current state: the live entities matching {@code filter}, in key order after {@code after}. */
  public List<Change> initialState(ChangeFilter filter, io.deltasync.server.store.EntityKey after, int limit) {
    return store.readInitialState(filter, ChangeFilter.all(), after, limit);
  }

  /** Whether {@code clientId} has changes in {@code scope} after {@code after}. */
  public boolean hasChangesBy(String clientId, String scope, Position after) {
    return store.hasOwnChangesAfter(clientId, scope, after);
  }

  /** The checksum of {@code scope} as a stream filtering with {@code delivered} holds it at {@code at}. */
  public io.deltasync.v1.SyncChecksum checksum(String scope, ChangeFilter delivered, Position at) {
    return ScopeChecksum.at(store, this, scope, delivered, at);
  }

  /** Reads up to {@code limit} changes after {@code after} that pass the filter. */
  public Page read(Cursor after, int limit, ChangeFilter filter) {
    ChangePage page = store.readChanges(after.position(), limit, filter);
    requireKeptAfter(after.position());
    List<Change> changes = new ArrayList<>(page.changes().size());
    for (ChangePage.Positioned positioned : page.changes()) {
      changes.add(withCursor(positioned));
    }
    return new Page(changes, cursorAt(page.frontier()), page.hasMore());
  }

  /** The change with its cursor set. */
  public Change withCursor(ChangePage.Positioned positioned) {
    return positioned.change().toBuilder().setCursor(cursorOf(positioned).encode()).build();
  }

  /** The cursor just after a change read from the log (its own commit time is its fingerprint). */
  public Cursor cursorOf(ChangePage.Positioned positioned) {
    return Cursor.at(epoch, positioned.position(), anchorOf(positioned.change()));
  }

  /** The cursor at a position every reader can see (a frontier or the watermark). */
  public Cursor cursorAt(Position position) {
    return Cursor.at(epoch, position, anchorAt(position));
  }

  /** The wire form of {@link #cursorAt}. */
  public String encodeAt(Position position) {
    return cursorAt(position).encode();
  }

  /**
   * Records the fingerprint of a position the caller has read up to without filtering (the live feed), so that
   * cursors at it cost no query.
   */
  void remember(Position position, long anchor) {
    anchorsLock.lock();
    try {
      anchors.put(position, anchor);
    } finally {
      anchorsLock.unlock();
    }
  }

  /** The fingerprint of a change: its commit time in microseconds, as the change log keeps it. */
  static long anchorOf(Change change) {
    Timestamp at = change.getEntity().getLastModifiedAt();
    return at.getSeconds() * 1_000_000 + at.getNanos() / 1_000;
  }

  private long anchorAt(Position position) {
    if (position.txId() == Long.MIN_VALUE) {
      return Cursor.NO_ANCHOR;
    }
    anchorsLock.lock();
    try {
      Long known = anchors.get(position);
      if (known != null) {
        return known;
      }
    } finally {
      anchorsLock.unlock();
    }
    long anchor;
    try {
      anchor = store.anchorAt(position).orElse(Cursor.NO_ANCHOR);
    } catch (RuntimeException e) {
      if (!SyncStore.isOverloaded(e)) {
        throw e;
      }
      // No connection free (or the lookup timed out): a cursor without a fingerprint is still a correct cursor,
      // only one whose history cannot be checked later. Better than failing what hands it out.
      return Cursor.UNCHECKED;
    }
    remember(position, anchor);
    return anchor;
  }
}

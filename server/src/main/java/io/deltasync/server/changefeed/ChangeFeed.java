package io.deltasync.server.changefeed;

import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.SyncStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.ErrorReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reads changes after a cursor, in commit order, and hands out the cursors to resume from. */
public final class ChangeFeed {
  private final SyncStore store;
  private final long epoch;

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
   * Turns a client's wire cursor into a position of this epoch (empty = the start of the change log).
   *
   * @throws DeltaSyncException INVALID_ARGUMENT (INVALID_CURSOR) if it is not a cursor, FAILED_PRECONDITION
   *     (RESYNC_REQUIRED) if it belongs to another epoch of the change log or to history already purged
   */
  public Cursor resolve(String wireCursor, String field) {
    Cursor cursor = wireCursor.isEmpty() ? start() : Cursor.decode(wireCursor).orElseThrow(() ->
        new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_CURSOR,
            List.of(Errors.violation(field, "not a cursor issued by this server (pass back a Change.cursor or "
                + "PullResponse.next_cursor unchanged, or empty to start from the beginning)")))));
    if (cursor.epoch() != epoch) {
      throw resyncRequired("the cursor belongs to an earlier epoch of the change log (the database was restored)",
          Map.of("cursor_epoch", Long.toString(cursor.epoch()), "server_epoch", Long.toString(epoch)));
    }
    if (cursor.position().compareTo(store.historyFloor()) < 0) {
      throw resyncRequired("the cursor is older than the change history the server keeps (tombstone retention)",
          Map.of());
    }
    return cursor;
  }

  private static DeltaSyncException resyncRequired(String why, Map<String, String> metadata) {
    return new DeltaSyncException(Errors.status(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_RESYNC_REQUIRED,
        "resync required: " + why + "; discard local state and sync again from an empty cursor", metadata));
  }

  /** Reads up to {@code limit} changes after {@code after} that pass the filter. */
  public Page read(Cursor after, int limit, ChangeFilter filter) {
    ChangePage page = store.readChanges(after.position(), limit, filter);
    List<Change> changes = new ArrayList<>(page.changes().size());
    for (ChangePage.Positioned positioned : page.changes()) {
      changes.add(positioned.change().toBuilder().setCursor(Cursor.at(epoch, positioned.position()).encode())
          .build());
    }
    return new Page(changes, Cursor.at(epoch, page.frontier()), page.hasMore());
  }
}

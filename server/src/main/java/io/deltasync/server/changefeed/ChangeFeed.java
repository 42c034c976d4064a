package io.deltasync.server.changefeed;

import com.google.rpc.Code;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.SyncStore;
import io.deltasync.v1.Change;
import io.deltasync.v1.ErrorReason;
import java.util.ArrayList;
import java.util.Collection;
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
   * @param next the cursor after the last change (the request's cursor when there is none)
   * @param hasMore whether more changes are already available after {@code next}
   */
  public record Page(List<Change> changes, Cursor next, boolean hasMore) {}

  /** Creates the feed for the store's current epoch. */
  public ChangeFeed(SyncStore store, long epoch) {
    this.store = store;
    this.epoch = epoch;
  }

  /** The position before the first change. */
  public Cursor start() {
    return Cursor.start(epoch);
  }

  /**
   * Turns a client's wire cursor into a position of this epoch.
   *
   * @throws DeltaSyncException INVALID_ARGUMENT (INVALID_CURSOR) if it is not a cursor, FAILED_PRECONDITION
   *     (RESYNC_REQUIRED) if it belongs to another epoch of the change log
   */
  public Cursor resolve(String wireCursor, String field) {
    if (wireCursor.isEmpty()) {
      return start();
    }
    Cursor cursor = Cursor.decode(wireCursor).orElseThrow(() -> new DeltaSyncException(Errors.invalidArgument(
        ErrorReason.ERROR_REASON_INVALID_CURSOR,
        List.of(Errors.violation(field, "not a cursor issued by this server (pass back a Change.cursor or "
            + "PullResponse.next_cursor unchanged, or empty to start from the beginning)")))));
    if (cursor.epoch() != epoch) {
      throw new DeltaSyncException(Errors.status(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_RESYNC_REQUIRED,
          "resync required: the cursor belongs to an earlier epoch of the change log (the database was restored); "
              + "discard local state and sync again from an empty cursor",
          Map.of("cursor_epoch", Long.toString(cursor.epoch()), "server_epoch", Long.toString(epoch))));
    }
    return cursor;
  }

  /** Reads up to {@code limit} changes after {@code after} that match the filters (empty = all). */
  public Page read(Cursor after, int limit, Collection<String> entityTypes, Collection<String> scopes) {
    ChangePage page = store.readChanges(after.txId(), after.changeId(), limit, entityTypes, scopes);
    List<Change> changes = new ArrayList<>(page.changes().size());
    Cursor next = after;
    for (ChangePage.Positioned positioned : page.changes()) {
      next = new Cursor(epoch, positioned.txId(), positioned.changeId());
      changes.add(positioned.change().toBuilder().setCursor(next.encode()).build());
    }
    return new Page(changes, next, page.hasMore());
  }
}

package io.deltasync.server.changefeed;

import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.PullResponse;
import java.util.List;
import java.util.Optional;

/**
 * The pages of unary Pull: the change log after a cursor, or, for an empty cursor once clean-up has purged the start
 * of the log, the current state first.
 *
 * <p>A client starting from nothing cannot replay a log whose start is gone, and answering it with resync would send
 * it back to an empty cursor for ever. So it gets what the stream's initial state gives: the watermark S is taken
 * first, then the live entities matching the filter are read page by page in key order, as create changes, each
 * carrying a {@link Cursor.InInitialState} cursor (S and its key) to continue after it; the page that delivers the
 * last entity hands over with the plain cursor at S. No transaction stays open between pages: an entity changed
 * during the download is either read in its newer version or changed after S, and the change log after S delivers
 * the change (again); clients apply by row_version, so both orders end in the same state. What the pages rely on is
 * that the log after S is still whole when the client gets there, so every page re-checks S against the history
 * floor, and a download that clean-up overtook answers resync: the next attempt takes a new S.
 */
public final class PullPages {
  private final ChangeFeed feed;
  private final long budget;

  /** Pages of {@code feed}, each below {@code maxMessageBytes} as one response message. */
  public PullPages(ChangeFeed feed, int maxMessageBytes) {
    this.feed = feed;
    this.budget = MessageBudget.of(maxMessageBytes);
  }

  /**
   * The page after {@code wireCursor} (empty = from the beginning): at most {@code pageSize} changes that pass
   * {@code filter}, cut shorter if they would not fit in one message.
   *
   * @throws io.deltasync.server.error.DeltaSyncException as {@link ChangeFeed#resolve} does
   */
  public PullResponse page(String wireCursor, int pageSize, ChangeFilter filter) {
    if (wireCursor.isEmpty() && feed.historyPurged()) {
      return initialState(feed.cursorAt(feed.visible()), null, pageSize, filter);
    }
    Optional<Cursor.InInitialState> inInitialState = feed.resolveInInitialState(wireCursor);
    if (inInitialState.isPresent()) {
      return initialState(inInitialState.get().at(), inInitialState.get().after(), pageSize, filter);
    }
    ChangeFeed.Page page = feed.read(feed.resolve(wireCursor, "cursor"), pageSize, filter);
    PullResponse.Builder response = PullResponse.newBuilder();
    if (fill(response, page.changes())) {
      return response.build();
    }
    return response.setNextCursor(page.next().encode()).setHasMore(page.hasMore()).build();
  }

  /** A page of the live entities after {@code after} (null = the first), handing over to the log at {@code at}. */
  private PullResponse initialState(Cursor at, EntityKey after, int pageSize, ChangeFilter filter) {
    // One more than the page, to know whether this page delivers the last entity and can hand over.
    List<Change> creates = feed.initialState(filter, after, pageSize + 1);
    boolean last = creates.size() <= pageSize;
    List<Change> page = creates.subList(0, Math.min(pageSize, creates.size())).stream()
        .map(create -> create.toBuilder().setCursor(new Cursor.InInitialState(at, keyOf(create.getEntity()))
            .encode()).build())
        .toList();
    // has_more stays true on the hand-over page too: the client reads the log after S next, whatever it holds.
    PullResponse.Builder response = PullResponse.newBuilder().setHasMore(true);
    if (fill(response, page)) {
      return response.build();
    }
    return response.setNextCursor(last ? at.encode() : page.getLast().getCursor()).build();
  }

  /**
   * Adds {@code changes} while the response stays below one message. True if it had to stop early: the response
   * then ends at its last change's cursor, with has_more set.
   */
  private boolean fill(PullResponse.Builder response, List<Change> changes) {
    long bytes = 0;
    for (Change change : changes) {
      int size = change.getSerializedSize() + MessageBudget.FRAMING_BYTES;
      if (response.getChangesCount() > 0 && bytes + size > budget) {
        response.setNextCursor(response.getChanges(response.getChangesCount() - 1).getCursor()).setHasMore(true);
        return true;
      }
      response.addChanges(change);
      bytes += size;
    }
    return false;
  }

  private static EntityKey keyOf(Entity entity) {
    return new EntityKey(entity.getScope(), entity.getEntityType(), entity.getEntityId());
  }
}

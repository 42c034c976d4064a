package io.deltasync.server.store;

import io.deltasync.v1.Change;
import java.util.List;

/**
 * Changes read from the change log, in commit order.
 *
 * @param changes the changes that matched, each with its position
 * @param frontier how far the read has looked: every matching change up to here is in {@code changes} (or was
 *     before the read's start), and none can appear before it later; a reader resumes after it
 * @param hasMore whether more matching changes were already visible after the frontier
 */
public record ChangePage(List<Positioned> changes, Position frontier, boolean hasMore) {
  /**
   * A change and its position in the log.
   *
   * @param position where it is
   * @param change the change (its cursor is not set here: cursors are encoded by the change feed)
   */
  public record Positioned(Position position, Change change) {}
}

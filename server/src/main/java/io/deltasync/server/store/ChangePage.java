package io.deltasync.server.store;

import io.deltasync.v1.Change;
import java.util.List;

/**
 * Changes read from the change log, in commit order.
 *
 * @param changes the changes, each with its position
 * @param hasMore whether more matching changes were already visible after the last one
 */
public record ChangePage(List<Positioned> changes, boolean hasMore) {
  /**
   * A change and its position in the log.
   *
   * @param txId the writing transaction's id
   * @param changeId the change-log row's id
   * @param change the change (its cursor is not set here: cursors are encoded by the change feed)
   */
  public record Positioned(long txId, long changeId, Change change) {}
}

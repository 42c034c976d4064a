package io.deltasync.server.store;

/**
 * A position in the change log's commit-visibility order: (writing transaction id, change-log row id).
 *
 * @param txId the transaction id
 * @param changeId the row id ({@link Long#MAX_VALUE} for "after every row of txId")
 */
public record Position(long txId, long changeId) implements Comparable<Position> {
  /** Before every change. */
  public static final Position START = new Position(Long.MIN_VALUE, 0);

  /** The position after every change of every transaction below {@code xmin}. */
  public static Position below(long xmin) {
    return new Position(xmin - 1, Long.MAX_VALUE);
  }

  @Override
  public int compareTo(Position other) {
    int byTx = Long.compare(txId, other.txId);
    return byTx != 0 ? byTx : Long.compare(changeId, other.changeId);
  }

  /** The later of two positions. */
  public static Position max(Position a, Position b) {
    return a.compareTo(b) >= 0 ? a : b;
  }
}

package io.deltasync.server.changefeed;

import io.deltasync.server.store.Position;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * A position in the change log: just after the change written by transaction {@code txId} as row {@code changeId},
 * in change-log epoch {@code epoch}. Positions order by (txId, changeId), which follows commit visibility (see
 * {@link io.deltasync.server.store.SyncStore#readChanges}). On the wire a cursor is an opaque string; clients
 * store it and pass it back, never parse it.
 *
 * @param epoch the change-log epoch the position belongs to
 * @param txId the writing transaction's id ({@link Long#MIN_VALUE} with changeId 0: before the first change;
 *     positions of an epoch restored from another cluster are negative, see
 *     {@link io.deltasync.server.store.SyncStore#ensureEpoch})
 * @param changeId the change-log row's id
 */
public record Cursor(long epoch, long txId, long changeId) implements Comparable<Cursor> {
  // Version tag inside the encoding, so the format can change without misreading old cursors.
  private static final String FORMAT = "c1";

  /** The position before the first change of an epoch. */
  public static Cursor start(long epoch) {
    return new Cursor(epoch, Long.MIN_VALUE, 0);
  }

  /** A cursor at a change-log position. */
  public static Cursor at(long epoch, Position position) {
    return new Cursor(epoch, position.txId(), position.changeId());
  }

  /** The change-log position. */
  public Position position() {
    return new Position(txId, changeId);
  }

  /** The opaque wire form. */
  public String encode() {
    String text = FORMAT + "." + epoch + "." + txId + "." + changeId;
    return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }

  /** Reads a wire cursor; empty if it is not one of ours (corrupted, truncated, or another format). */
  public static Optional<Cursor> decode(String encoded) {
    try {
      String text = new String(Base64.getUrlDecoder().decode(encoded), StandardCharsets.US_ASCII);
      String[] parts = text.split("\\.", -1);
      if (parts.length != 4 || !parts[0].equals(FORMAT)) {
        return Optional.empty();
      }
      return Optional.of(new Cursor(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Long.parseLong(parts[3])));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  @Override
  public int compareTo(Cursor other) {
    int byTx = Long.compare(txId, other.txId);
    return byTx != 0 ? byTx : Long.compare(changeId, other.changeId);
  }
}

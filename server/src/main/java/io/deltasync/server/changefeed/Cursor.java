package io.deltasync.server.changefeed;

import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Position;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * A position in the change log: just after the change written by transaction {@code txId} as row {@code changeId},
 * in change-log epoch {@code epoch}. Positions order by (txId, changeId), which follows commit visibility (see
 * {@link io.deltasync.server.store.SyncStore#readChanges}). On the wire a cursor is an opaque string; clients
 * store it and pass it back, never parse it.
 *
 * <p>{@code anchor} fingerprints the history the cursor was handed out in: the commit time (microseconds) of the
 * newest change-log row at or before the position ({@link #NO_ANCHOR} when there was none). A database restored
 * from a copy keeps its identity and timeline, and once it has handed out as many transaction ids again, the same
 * positions name other changes; the fingerprint then no longer matches and the client is told to resync instead
 * of silently skipping what was written after the restore.
 *
 * @param epoch the change-log epoch the position belongs to
 * @param txId the writing transaction's id ({@link Long#MIN_VALUE} with changeId 0: before the first change;
 *     positions of an epoch restored from another cluster are negative, see
 *     {@link io.deltasync.server.store.SyncStore#ensureEpoch})
 * @param changeId the change-log row's id
 * @param anchor the history fingerprint; {@link #UNCHECKED} for cursors of the first format, which carry none
 */
public record Cursor(long epoch, long txId, long changeId, long anchor) implements Comparable<Cursor> {
  /** The anchor of a position with no change-log row at or before it. */
  public static final long NO_ANCHOR = -1;
  /** The anchor of a cursor that carries none (first format): its history cannot be checked. */
  public static final long UNCHECKED = Long.MIN_VALUE;

  // Version tag inside the encoding, so the format can change without misreading old cursors.
  private static final String FORMAT_V1 = "c1";
  private static final String FORMAT = "c2";
  private static final String FORMAT_INITIAL_STATE = "c3";

  /** A cursor without a history fingerprint (the first format's content). */
  public Cursor(long epoch, long txId, long changeId) {
    this(epoch, txId, changeId, UNCHECKED);
  }

  /** The position before the first change of an epoch (nothing before it to check). */
  public static Cursor start(long epoch) {
    return new Cursor(epoch, Long.MIN_VALUE, 0, NO_ANCHOR);
  }

  /** A cursor at a change-log position with its history fingerprint. */
  public static Cursor at(long epoch, Position position, long anchor) {
    return new Cursor(epoch, position.txId(), position.changeId(), anchor);
  }

  /** The change-log position. */
  public Position position() {
    return new Position(txId, changeId);
  }

  /** The opaque wire form. */
  public String encode() {
    String body = FORMAT + "." + epoch + "." + txId + "." + changeId + "." + anchor;
    String text = body + "." + check(body);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
  }

  /** Reads a wire cursor; empty if it is not one of ours (corrupted, truncated, or another format). */
  public static Optional<Cursor> decode(String encoded) {
    try {
      String text = new String(Base64.getUrlDecoder().decode(encoded), StandardCharsets.US_ASCII);
      String[] parts = text.split("\\.", -1);
      if (parts.length == 4 && parts[0].equals(FORMAT_V1)) {
        return Optional.of(new Cursor(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Long.parseLong(parts[3]),
            UNCHECKED));
      }
      if (parts.length != 6 || !parts[0].equals(FORMAT)
          || !parts[5].equals(check(text.substring(0, text.lastIndexOf('.'))))) {
        return Optional.empty();
      }
      return Optional.of(new Cursor(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Long.parseLong(parts[3]),
          Long.parseLong(parts[4])));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /**
   * A position inside the initial state that Pull serves from an empty cursor once clean-up has purged the start of
   * the change log (the third format, "c3"): the live entities after {@code after} in key order, read at or after
   * {@code at} (the watermark taken when the download began), then the change log after {@code at}. Only Pull
   * continues one; the Sync stream answers it with resync (see {@link ChangeFeed#resolve}).
   *
   * @param at the change-log position the download hands over to, with its epoch and history fingerprint
   * @param after the key of the last entity delivered
   */
  public record InInitialState(Cursor at, EntityKey after) {
    /** The opaque wire form: the parts of the key are base64url (which has no '.'), the whole checked as c2. */
    public String encode() {
      Base64.Encoder part = Base64.getUrlEncoder().withoutPadding();
      String body = FORMAT_INITIAL_STATE + "." + at.epoch() + "." + at.txId() + "." + at.changeId() + "."
          + at.anchor() + "." + part.encodeToString(after.scope().getBytes(StandardCharsets.UTF_8)) + "."
          + part.encodeToString(after.entityType().getBytes(StandardCharsets.UTF_8)) + "."
          + part.encodeToString(after.entityId().getBytes(StandardCharsets.UTF_8));
      String text = body + "." + check(body);
      return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
    }

    /** Reads a wire cursor of this format; empty if it is not one (another format, corrupted, or truncated). */
    public static Optional<InInitialState> decode(String encoded) {
      try {
        String text = new String(Base64.getUrlDecoder().decode(encoded), StandardCharsets.US_ASCII);
        String[] parts = text.split("\\.", -1);
        if (parts.length != 9 || !parts[0].equals(FORMAT_INITIAL_STATE)
            || !parts[8].equals(check(text.substring(0, text.lastIndexOf('.'))))) {
          return Optional.empty();
        }
        Base64.Decoder part = Base64.getUrlDecoder();
        Cursor at = new Cursor(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Long.parseLong(parts[3]),
            Long.parseLong(parts[4]));
        return Optional.of(new InInitialState(at, new EntityKey(
            new String(part.decode(parts[5]), StandardCharsets.UTF_8),
            new String(part.decode(parts[6]), StandardCharsets.UTF_8),
            new String(part.decode(parts[7]), StandardCharsets.UTF_8))));
      } catch (IllegalArgumentException e) {
        return Optional.empty();
      }
    }
  }

  /** A check value over the encoding, so that a truncated or altered cursor is refused, not misread. */
  private static String check(String body) {
    CRC32 crc = new CRC32();
    crc.update(body.getBytes(StandardCharsets.US_ASCII));
    return Long.toHexString(crc.getValue());
  }

  @Override
  public int compareTo(Cursor other) {
    int byTx = Long.compare(txId, other.txId);
    return byTx != 0 ? byTx : Long.compare(changeId, other.changeId);
  }
}

package io.deltasync.server.conflict;

import com.google.protobuf.util.Timestamps;
import io.deltasync.v1.Delta;
import java.time.Duration;
import java.time.Instant;

/**
 * The time a write counts as made, for last-write-wins: microseconds since the epoch, and the writer, which breaks
 * ties so that every server node orders two writes the same way.
 *
 * @param micros effective time in microseconds since the epoch
 * @param writer the client id (or database user) that made the write
 */
public record WriteClock(long micros, String writer) implements Comparable<WriteClock> {
  /**
   * The effective time of a delta: the client's {@code client_modified_at}, but never later than the server's
   * clock plus {@code maxSkew}. Client clocks are often wrong; without the cap, a phone whose clock runs a year
   * ahead would win every conflict for a year. Without a client time, the server's clock counts.
   */
  public static WriteClock of(Delta delta, String clientId, Instant serverNow, Duration maxSkew) {
    long server = micros(serverNow);
    long cap = server + maxSkew.toNanos() / 1_000;
    long claimed = delta.hasClientModifiedAt() ? Timestamps.toMicros(delta.getClientModifiedAt()) : server;
    return new WriteClock(Math.min(claimed, cap), clientId);
  }

  /** Microseconds since the epoch of an instant. */
  public static long micros(Instant instant) {
    return Math.addExact(Math.multiplyExact(instant.getEpochSecond(), 1_000_000L), instant.getNano() / 1_000);
  }

  /** Later time wins; on equal times the greater writer id wins (any fixed rule would do, as long as all agree). */
  @Override
  public int compareTo(WriteClock other) {
    int byTime = Long.compare(micros, other.micros);
    return byTime != 0 ? byTime : writer.compareTo(other.writer);
  }

  /** Whether this write beats {@code other}. */
  public boolean beats(WriteClock other) {
    return compareTo(other) > 0;
  }
}

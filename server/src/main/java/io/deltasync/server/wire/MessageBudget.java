package io.deltasync.server.wire;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * The one message-size budget: what the server puts in one response message (a page of changes, a Pull page, the
 * results of a push, one change) stays below the size clients accept (a page of 50 documents of 256 KiB would not
 * fit gRPC's default 4 MiB).
 */
public final class MessageBudget {
  /** Per item: the field tag and length prefix around each repeated element. */
  public static final int FRAMING_BYTES = 8;

  private MessageBudget() {}

  /**
   * What one message may hold: the limit less room for the envelope (cursor, phase, framing), and never less than
   * half of it.
   */
  public static long of(int maxMessageBytes) {
    return Math.max(maxMessageBytes / 2, maxMessageBytes - 64 * 1024L);
  }

  /**
   * Consecutive groups of {@code items}, in order, each at most {@code budget} bytes unless it holds a single item
   * (an item too big alone still goes out alone; the limits keep that from exceeding a message). Never empty: no
   * items give one empty group, which still carries a cursor.
   */
  public static <T> List<List<T>> split(List<T> items, ToIntFunction<T> sizeOf, long budget) {
    List<List<T>> chunks = new ArrayList<>();
    List<T> chunk = new ArrayList<>();
    long bytes = 0;
    for (T item : items) {
      int size = sizeOf.applyAsInt(item) + FRAMING_BYTES;
      if (!chunk.isEmpty() && bytes + size > budget) {
        chunks.add(chunk);
        chunk = new ArrayList<>();
        bytes = 0;
      }
      chunk.add(item);
      bytes += size;
    }
    chunks.add(chunk);
    return chunks;
  }
}

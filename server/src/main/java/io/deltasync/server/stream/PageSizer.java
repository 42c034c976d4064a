package io.deltasync.server.stream;

import io.deltasync.server.wire.MessageBudget;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToIntFunction;

/**
 * Sizes one stream's pages by bytes: how many rows its next initial-state or catch-up read asks for, and where a
 * page read is cut so that it stays within the byte budget. Rows vary from a few hundred bytes to hundreds of KiB, so
 * a fixed count of rows either sends thousands of tiny messages (one database round trip and one message each) or
 * messages too large; the count here follows the sizes of the rows the previous read returned.
 *
 * <p>Not thread-safe: used by its stream's delivery thread only.
 */
final class PageSizer {
  // Since start, for tests and diagnostics: page reads sized here, and reads of more than one row that held more than
  // twice the page's budget as serialized (reads are bounded by bytes in the query, store.BoundedReads, by an
  // estimate from the rows' text: a number is 9 bytes in a protobuf Value and 2 in JSON, so "twice" leaves room).
  private static final AtomicLong READS = new AtomicLong();
  private static final AtomicLong READS_OVER_TWICE_BUDGET = new AtomicLong();

  private final long budgetBytes;
  private final int maxRows;
  private final int firstRows;
  private double bytesPerRow;

  /**
   * @param budgetBytes the most bytes of changes (with their framing) in one page
   * @param maxRows the most rows in one page (the stream's buffer)
   * @param firstRows the rows of the first read, before any size is known
   */
  PageSizer(long budgetBytes, int maxRows, int firstRows) {
    if (budgetBytes < 1 || maxRows < 1 || firstRows < 1) {
      throw new IllegalArgumentException("budgetBytes: " + budgetBytes + ", maxRows: " + maxRows + ", firstRows: "
          + firstRows + " (expected: >= 1)");
    }
    this.budgetBytes = budgetBytes;
    this.maxRows = maxRows;
    this.firstRows = Math.min(firstRows, maxRows);
  }

  /** The byte budget of one page. */
  long budgetBytes() {
    return budgetBytes;
  }

  /** How many rows the next read asks for: as many as the budget holds at the sizes last seen. */
  int nextRows() {
    if (bytesPerRow <= 0) {
      return firstRows;
    }
    return (int) Math.max(1, Math.min(maxRows, (long) Math.floor(budgetBytes / bytesPerRow)));
  }

  /**
   * How many of {@code read}, from its start, fit the budget (at least one when it is not empty: a single change
   * larger than the budget still goes out alone); also learns the sizes for {@link #nextRows}.
   */
  <T> int fitting(List<T> read, ToIntFunction<T> sizeOf) {
    long total = 0;
    long kept = 0;
    int fit = 0;
    boolean full = false;
    for (T item : read) {
      int size = sizeOf.applyAsInt(item) + MessageBudget.FRAMING_BYTES;
      total += size;
      if (!full && (fit == 0 || kept + size <= budgetBytes)) {
        kept += size;
        fit++;
      } else {
        full = true;
      }
    }
    if (!read.isEmpty()) {
      bytesPerRow = (double) total / read.size();
    }
    READS.incrementAndGet();
    if (read.size() > 1 && total > 2 * budgetBytes) {
      READS_OVER_TWICE_BUDGET.incrementAndGet();
    }
    return fit;
  }

  /** Page reads sized since start. */
  static long reads() {
    return READS.get();
  }

  /** Reads of more than one row that held more than twice their page's budget, since start. */
  static long readsOverTwiceBudget() {
    return READS_OVER_TWICE_BUDGET.get();
  }
}

package io.deltasync.server;

import java.util.Map;

/**
 * How the Sync stream sizes the pages it sends (initial state, catch-up and live): by bytes, not by a count of rows.
 * {@code SYNC_BATCH_SIZE} stays the page of Pull and the size of a stream's first read; after that each read asks
 * for as many rows as the byte budget holds at the sizes just seen, capped by the stream's buffer
 * ({@code DELTASYNC_STREAM_QUEUE_CHANGES}).
 *
 * @param pageBytes the most bytes of changes in one page (one SyncChanges message) on the stream; a single change
 *     larger than this still goes out alone. The server caps it at the message limit less 64 KiB for the envelope
 *     ({@code DELTASYNC_MAX_MESSAGE_BYTES}); a change too large for a message is delivered degraded, as before
 */
public record StreamPages(long pageBytes) {
  /** The default byte budget of one page: 1 MiB. */
  public static final int DEFAULT_PAGE_BYTES = 1024 * 1024;

  /** Validates. */
  public StreamPages {
    if (pageBytes < 1) {
      throw new IllegalArgumentException("pageBytes: " + pageBytes + " (expected: >= 1)");
    }
  }

  /** The defaults. */
  public static StreamPages defaults() {
    return new StreamPages(DEFAULT_PAGE_BYTES);
  }

  /** Reads {@code DELTASYNC_STREAM_PAGE_BYTES}. */
  public static StreamPages from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    return new StreamPages(s.integer("DELTASYNC_STREAM_PAGE_BYTES", DEFAULT_PAGE_BYTES, 1024, 256 * 1024 * 1024));
  }
}

package io.deltasync.server.store;

/**
 * What a compare-and-set expects of the current row: a version, an etag, or both.
 *
 * @param rowVersion the expected row_version; 0 = not checked
 * @param etag the expected etag; empty = not checked
 */
public record Expected(long rowVersion, String etag) {
  /** True when neither is checked (only meaningful for creates). */
  public boolean isEmpty() {
    return rowVersion == 0 && etag.isEmpty();
  }
}

package io.deltasync.server.store;

import java.util.Map;

/**
 * The last-write-wins clocks of an entity, as the database keeps them.
 *
 * @param entity the clock of the last write
 * @param fields the clock of each top-level field's last change
 */
public record WriteClocks(Stamp entity, Map<String, Stamp> fields) {
  /**
   * One clock reading.
   *
   * @param micros effective time, microseconds since the epoch
   * @param writer who wrote
   */
  public record Stamp(long micros, String writer) {}
}

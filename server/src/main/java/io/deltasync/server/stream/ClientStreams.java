package io.deltasync.server.stream;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts the open Sync streams of each client id on this node and refuses one past the limit: two devices sharing
 * an id are expected, a client that opens streams in a loop (or a hostile one using someone's id) is not.
 */
final class ClientStreams {
  private final int max;
  private final ConcurrentHashMap<String, Integer> open = new ConcurrentHashMap<>();

  ClientStreams(int max) {
    this.max = max;
  }

  /** Takes a slot for the client; false if it already has the most streams allowed. */
  boolean tryOpen(String clientId) {
    boolean[] taken = new boolean[1];
    open.compute(clientId, (id, count) -> {
      int now = count == null ? 0 : count;
      taken[0] = now < max;
      return taken[0] ? now + 1 : count;
    });
    return taken[0];
  }

  /** Gives back a slot taken by {@link #tryOpen}. */
  void release(String clientId) {
    open.computeIfPresent(clientId, (id, count) -> count <= 1 ? null : count - 1);
  }
}

package io.deltasync.server.ot;

import static java.util.Objects.requireNonNull;

/**
 * The deterministic tie-break between two concurrent edits, seen from the edit being transformed: {@link #LEFT} means
 * it has priority — its insert goes first at the same position and its write wins on the same key or element.
 */
public enum Side {
  /** The edit being transformed has priority. */
  LEFT,
  /** The edit transformed against has priority. */
  RIGHT;

  /** The side of the other edit of the pair. */
  public Side opposite() {
    return this == LEFT ? RIGHT : LEFT;
  }

  /**
   * The side of an edit by {@code clientId} against one by {@code otherClientId}: the smaller id (by
   * {@link String#compareTo}) has priority. Any fixed rule would converge; this one needs no extra state. Equal ids
   * give {@link #LEFT}, so derive the other direction's side with {@link #opposite()} (or use
   * {@link OperationalTransform#transformBoth}), never by a second call with the ids swapped.
   */
  public static Side byClientId(String clientId, String otherClientId) {
    requireNonNull(clientId, "clientId");
    requireNonNull(otherClientId, "otherClientId");
    return clientId.compareTo(otherClientId) <= 0 ? LEFT : RIGHT;
  }
}

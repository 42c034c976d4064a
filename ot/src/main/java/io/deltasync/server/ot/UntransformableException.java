package io.deltasync.server.ot;

import java.io.Serial;

/**
 * Two lists of edits cannot be transformed against each other because they do not describe the same document (for
 * example a text edit and an array edit at one path); the server hands such a delta to the fallback conflict policy.
 */
public final class UntransformableException extends Exception {
  @Serial private static final long serialVersionUID = 1L;

  /** An exception saying why the edits do not fit together. */
  public UntransformableException(String message) {
    super(message);
  }
}

package io.deltasync.sdk.sqlite;

/** The local SQLite database failed; the transaction was rolled back. */
public final class LocalStoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  LocalStoreException(String message, Throwable cause) {
    super(message + ": " + cause.getMessage(), cause);
  }
}

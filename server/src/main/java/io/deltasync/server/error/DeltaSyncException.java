package io.deltasync.server.error;

import com.google.rpc.Code;
import com.google.rpc.Status;
import io.deltasync.v1.ErrorReason;

/** An expected failure of a request, carrying the exact {@code google.rpc.Status} to send. */
public final class DeltaSyncException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Status status;

  /** Wraps a status built with {@link Errors}. */
  public DeltaSyncException(Status status) {
    super(status.getMessage(), null, false, false);
    this.status = status;
  }

  /** Shorthand for a status with an ErrorInfo. */
  public DeltaSyncException(Code code, ErrorReason reason, String message) {
    this(Errors.status(code, reason, message));
  }

  /** The status to send. */
  public Status status() {
    return status;
  }
}

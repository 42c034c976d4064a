package io.deltasync.server.auth;

import io.deltasync.v1.ErrorReason;

/** Why a call was not authenticated; the reason is all a caller is told. */
public enum AuthFailure {
  /** No credential came with the call. */
  MISSING(ErrorReason.ERROR_REASON_TOKEN_MISSING, "no credential: send 'authorization: Bearer <token>' or 'x-api-key'"),
  /** The credential is not acceptable (which check failed is not said). */
  INVALID(ErrorReason.ERROR_REASON_TOKEN_INVALID, "the credential is not valid"),
  /** The token has expired. */
  EXPIRED(ErrorReason.ERROR_REASON_TOKEN_EXPIRED, "the token has expired: get a fresh one");

  private final ErrorReason reason;
  private final String message;

  AuthFailure(ErrorReason reason, String message) {
    this.reason = reason;
    this.message = message;
  }

  /** The ErrorInfo reason. */
  public ErrorReason reason() {
    return reason;
  }

  /** The status sent: UNAUTHENTICATED with the reason, and nothing else. */
  public com.google.rpc.Status status() {
    return io.deltasync.server.error.Errors.status(com.google.rpc.Code.UNAUTHENTICATED, reason, message);
  }
}

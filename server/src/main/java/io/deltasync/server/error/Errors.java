package io.deltasync.server.error;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import com.google.rpc.Status;
import io.deltasync.v1.ErrorReason;
import java.util.List;
import java.util.Map;

/**
 * Builds the {@code google.rpc.Status} values deltasync sends: every one carries an {@link ErrorInfo} whose reason
 * comes from the {@link ErrorReason} catalogue, so clients branch on the reason, never on message text.
 */
public final class Errors {
  /** The ErrorInfo domain of every deltasync error. */
  public static final String DOMAIN = "deltasync.dev";

  private static final String REASON_PREFIX = "ERROR_REASON_";

  private Errors() {}

  /** The ErrorInfo reason string of a catalogue entry: its name without the enum prefix. */
  public static String reason(ErrorReason reason) {
    return reason.name().substring(REASON_PREFIX.length());
  }

  /** A status with an ErrorInfo and optional metadata. */
  public static Status status(Code code, ErrorReason reason, String message, Map<String, String> metadata) {
    return Status.newBuilder()
        .setCode(code.getNumber())
        .setMessage(message)
        .addDetails(Any.pack(ErrorInfo.newBuilder()
            .setDomain(DOMAIN)
            .setReason(reason(reason))
            .putAllMetadata(metadata)
            .build()))
        .build();
  }

  /** A status with an ErrorInfo. */
  public static Status status(Code code, ErrorReason reason, String message) {
    return status(code, reason, message, Map.of());
  }

  /** INVALID_ARGUMENT with a BadRequest listing every violation; the message lists them too, for humans. */
  public static Status invalidArgument(ErrorReason reason, List<BadRequest.FieldViolation> violations) {
    StringBuilder message = new StringBuilder();
    for (BadRequest.FieldViolation violation : violations) {
      message.append(message.isEmpty() ? "" : "; ").append(violation.getField()).append(": ")
          .append(violation.getDescription());
    }
    return status(Code.INVALID_ARGUMENT, reason, message.toString()).toBuilder()
        .addDetails(Any.pack(BadRequest.newBuilder().addAllFieldViolations(violations).build()))
        .build();
  }

  /** How long a client is told to wait before retrying when the server is busy. */
  private static final com.google.protobuf.Duration BUSY_RETRY_DELAY =
      com.google.protobuf.Duration.newBuilder().setSeconds(1).build();

  /**
   * RESOURCE_EXHAUSTED / SERVER_BUSY with a RetryInfo: every database connection stayed busy for the bounded wait,
   * or a statement ran past statement_timeout. Nothing was applied; retry with backoff (same delta ids).
   */
  public static Status busy() {
    return status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_SERVER_BUSY, "the server is busy (every "
        + "database connection stayed in use); nothing was done: retry with backoff").toBuilder()
        .addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(BUSY_RETRY_DELAY).build()))
        .build();
  }

  /** One field violation of a documented limit: its own reason says LIMIT_EXCEEDED too. */
  public static BadRequest.FieldViolation limitViolation(String field, String description) {
    return violation(field, description).toBuilder().setReason(reason(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED))
        .build();
  }

  /** One field violation. */
  public static BadRequest.FieldViolation violation(String field, String description) {
    return BadRequest.FieldViolation.newBuilder().setField(field).setDescription(description).build();
  }
}

package io.deltasync.server.web;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.ErrorDetailsProto;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpHeaders;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.grpc.UnframedGrpcErrorHandler;
import com.linecorp.armeria.server.grpc.UnframedGrpcStatusMappingFunction;
import com.google.rpc.Code;
import io.deltasync.server.error.Errors;
import io.deltasync.v1.ErrorReason;
import io.grpc.Status;
import java.util.Base64;

/**
 * Errors of the HTTP/JSON calls: the JSON form of the call's {@code google.rpc.Status}, details included (ErrorInfo,
 * BadRequest, ...), with the HTTP status of the standard gRPC mapping. Armeria's own JSON error body is a different
 * shape (its "grpc-code" field, details only with its own renderer), and clients branch on ErrorInfo.reason.
 */
final class JsonErrors implements UnframedGrpcErrorHandler {
  private static final String DETAILS = "grpc-status-details-bin";
  private static final JsonFormat.Printer PRINTER = JsonFormat.printer()
      .usingTypeRegistry(JsonFormat.TypeRegistry.newBuilder()
          .add(ErrorDetailsProto.getDescriptor().getMessageTypes()).build())
      .omittingInsignificantWhitespace();
  private final UnframedGrpcStatusMappingFunction httpStatus = UnframedGrpcStatusMappingFunction.of();

  @Override
  public HttpResponse handle(ServiceRequestContext ctx, Status status, AggregatedHttpResponse response) {
    java.util.Optional<com.google.rpc.Status> own = details(response.trailers()).or(() -> details(response.headers()));
    com.google.rpc.Status body = own.orElseGet(() -> withoutDetails(status));
    HttpStatus mapped = httpStatus.apply(ctx, status, status.getCause());
    if (own.isEmpty() && overTheLimit(status)) {
      // Armeria's own: the body is over the message limit. The same body never fits, so not 429 ("retry later").
      mapped = HttpStatus.REQUEST_ENTITY_TOO_LARGE;
    }
    return respond(mapped == null ? HttpStatus.INTERNAL_SERVER_ERROR : mapped, body);
  }

  /** The answer {@code status} as JSON, with {@code httpStatus}. */
  static HttpResponse respond(HttpStatus httpStatus, com.google.rpc.Status status) {
    return HttpResponse.of(httpStatus, MediaType.JSON_UTF_8, print(status));
  }

  /** The JSON text of {@code status}. */
  static String print(com.google.rpc.Status status) {
    try {
      return PRINTER.print(status);
    } catch (InvalidProtocolBufferException e) {
      // A detail of a type outside the registry: say what the status says, without the details.
      try {
        return PRINTER.print(status.toBuilder().clearDetails().build());
      } catch (InvalidProtocolBufferException impossible) {
        return "{\"code\":" + status.getCode() + "}";
      }
    }
  }

  /** A body over DELTASYNC_MAX_MESSAGE_BYTES. */
  static com.google.rpc.Status tooLarge() {
    return Errors.status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
        "request body: larger than the message limit (DELTASYNC_MAX_MESSAGE_BYTES); split the batch");
  }

  /** A request body refused before it reached the call (docs/http.md "Errors"). */
  static com.google.rpc.Status malformed(String problem) {
    return Errors.status(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MALFORMED_MESSAGE,
        "request body: " + problem + "; see docs/http.md");
  }

  /**
   * A status the services did not make: the transcoder's own, when the body is not JSON of the request message (an
   * unknown field or enum value, a string where a number goes). Clients still get a reason to branch on.
   */
  private static com.google.rpc.Status withoutDetails(Status status) {
    String message = status.getDescription() != null ? status.getDescription()
        : status.getCause() != null && status.getCause().getMessage() != null ? status.getCause().getMessage() : "";
    // Names of the server's classes tell a client nothing it can act on.
    message = message.replaceAll("(?:com\\.linecorp|io\\.grpc|com\\.google|com\\.fasterxml)[\\w.$]*(?::\\s*)?", "")
        .trim();
    if (status.getCode() == Status.Code.INVALID_ARGUMENT) {
      return Errors.status(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MALFORMED_MESSAGE,
          "request body: not JSON of the call's request message" + (message.isEmpty() ? "" : " (" + message + ")")
              + "; see docs/http.md");
    }
    if (overTheLimit(status)) {
      return tooLarge();
    }
    return Errors.status(Code.forNumber(status.getCode().value()), reason(status.getCode()), message);
  }

  /** Armeria's status for a message over the limit (the services' own RESOURCE_EXHAUSTED carry details). */
  static boolean overTheLimit(Status status) {
    if (status.getCode() != Status.Code.RESOURCE_EXHAUSTED) {
      return false;
    }
    String text = String.valueOf(status.getDescription()) + " " + (status.getCause() == null ? ""
        : status.getCause().getClass().getSimpleName() + " " + status.getCause().getMessage());
    return text.contains("exceed") || text.contains("TooLarge") || text.contains("too large");
  }

  /** A reason for a status the services did not make, so that clients can always branch on one. */
  static ErrorReason reason(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, OUT_OF_RANGE -> ErrorReason.ERROR_REASON_MALFORMED_MESSAGE;
      case RESOURCE_EXHAUSTED -> ErrorReason.ERROR_REASON_LIMIT_EXCEEDED;
      case UNIMPLEMENTED, NOT_FOUND -> ErrorReason.ERROR_REASON_NOT_IMPLEMENTED;
      case UNAUTHENTICATED -> ErrorReason.ERROR_REASON_TOKEN_INVALID;
      case PERMISSION_DENIED -> ErrorReason.ERROR_REASON_PERMISSION_DENIED;
      case UNAVAILABLE -> ErrorReason.ERROR_REASON_RECONNECT;
      default -> ErrorReason.ERROR_REASON_INTERNAL;
    };
  }

  private static java.util.Optional<com.google.rpc.Status> details(HttpHeaders headers) {
    String encoded = headers.get(DETAILS);
    if (encoded == null) {
      return java.util.Optional.empty();
    }
    try {
      return java.util.Optional.of(com.google.rpc.Status.parseFrom(Base64.getDecoder().decode(encoded)));
    } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
      return java.util.Optional.empty();
    }
  }
}

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
    com.google.rpc.Status body = details(response.trailers())
        .or(() -> details(response.headers()))
        .orElseGet(() -> withoutDetails(status));
    HttpStatus mapped = httpStatus.apply(ctx, status, status.getCause());
    try {
      return HttpResponse.of(mapped == null ? HttpStatus.INTERNAL_SERVER_ERROR : mapped, MediaType.JSON_UTF_8,
          PRINTER.print(body));
    } catch (InvalidProtocolBufferException e) {
      // A detail of a type outside the registry: say what the status says, without the details.
      return HttpResponse.of(mapped, MediaType.JSON_UTF_8, "{\"code\":" + body.getCode() + "}");
    }
  }

  /**
   * A status the services did not make: the transcoder's own, when the body is not JSON of the request message (an
   * unknown field or enum value, a string where a number goes). Clients still get a reason to branch on.
   */
  private static com.google.rpc.Status withoutDetails(Status status) {
    String message = status.getDescription() != null ? status.getDescription()
        : status.getCause() != null && status.getCause().getMessage() != null ? status.getCause().getMessage() : "";
    if (status.getCode() == Status.Code.INVALID_ARGUMENT) {
      return Errors.status(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MALFORMED_MESSAGE,
          "request body: not JSON of the call's request message" + (message.isEmpty() ? "" : " (" + message + ")")
              + "; see docs/http.md");
    }
    return com.google.rpc.Status.newBuilder().setCode(status.getCode().value()).setMessage(message).build();
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

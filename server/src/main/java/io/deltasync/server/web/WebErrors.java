package io.deltasync.server.web;

import com.google.rpc.Code;
import com.linecorp.armeria.common.AggregatedHttpResponse;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.RequestHeaders;
import com.linecorp.armeria.server.ServerErrorHandler;
import com.linecorp.armeria.server.ServiceConfig;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.deltasync.server.error.Errors;
import io.grpc.Status;

/**
 * The answers Armeria itself gives before a call starts (no such path, wrong method, body too large, ...) in the
 * same JSON google.rpc.Status shape as the calls' errors, with a reason, and no class names.
 */
final class WebErrors implements ServerErrorHandler {
  @Override
  public HttpResponse onServiceException(ServiceRequestContext ctx, Throwable cause) {
    return null;  // the default: rendered by renderStatus below
  }

  @Override
  public AggregatedHttpResponse renderStatus(ServiceRequestContext ctx, ServiceConfig config, RequestHeaders headers,
      HttpStatus status, String description, Throwable cause) {
    Status.Code code = code(status);
    com.google.rpc.Status body = code == Status.Code.RESOURCE_EXHAUSTED && status.code() == 413 ? JsonErrors.tooLarge()
        : Errors.status(Code.forNumber(code.value()), JsonErrors.reason(code), status.reasonPhrase()
            + (status.code() == 404 ? ": no call or file at this path; see docs/http.md" : ""));
    return AggregatedHttpResponse.of(status, MediaType.JSON_UTF_8, JsonErrors.print(body));
  }

  static Status.Code code(HttpStatus status) {
    return switch (status.code()) {
      case 400, 415 -> Status.Code.INVALID_ARGUMENT;
      case 401 -> Status.Code.UNAUTHENTICATED;
      case 403 -> Status.Code.PERMISSION_DENIED;
      case 404 -> Status.Code.NOT_FOUND;
      case 405, 501 -> Status.Code.UNIMPLEMENTED;
      case 408, 504 -> Status.Code.DEADLINE_EXCEEDED;
      case 413, 429 -> Status.Code.RESOURCE_EXHAUSTED;
      case 503 -> Status.Code.UNAVAILABLE;
      default -> status.code() < 500 ? Status.Code.FAILED_PRECONDITION : Status.Code.INTERNAL;
    };
  }
}

package io.deltasync.server.web;

import com.linecorp.armeria.common.AggregatedHttpRequest;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.util.Exceptions;
import com.linecorp.armeria.server.DecoratingHttpServiceFunction;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import java.util.Optional;

/**
 * The HTTP/JSON paths' bodies checked before the transcoder reads them (it would replace invalid UTF-8 and turn
 * {@code 1e400} into "Infinity"): {@link StrictJson}'s rules and the message limit, answered with the JSON error of
 * docs/http.md. gRPC-Web bodies are framed, and checked message by message (WebMarshalling).
 */
final class JsonBodies {
  private JsonBodies() {}

  static DecoratingHttpServiceFunction checking(int maxMessageBytes) {
    return (delegate, ctx, req) -> {
      if (!json(req)) {
        return delegate.serve(ctx, req);
      }
      return HttpResponse.of(req.aggregate().handleAsync((body, failure) -> {
        if (failure != null) {
          Throwable cause = Exceptions.peel(failure);
          if (cause.getClass().getSimpleName().contains("ContentTooLarge")) {
            return JsonErrors.respond(HttpStatus.REQUEST_ENTITY_TOO_LARGE, JsonErrors.tooLarge());
          }
          return HttpResponse.ofFailure(cause);
        }
        return check(delegate, ctx, body, maxMessageBytes);
      }, ctx.eventLoop()));
    };
  }

  /** A JSON body for the transcoder: JSON, or no type at all on a method with a body; gRPC(-Web) is framed. */
  static boolean json(HttpRequest req) {
    MediaType type = req.contentType();
    if (type == null) {
      return req.method() == HttpMethod.POST || req.method() == HttpMethod.PUT || req.method() == HttpMethod.PATCH;
    }
    String subtype = type.subtype();
    return !subtype.startsWith("grpc") && (type.is(MediaType.JSON) || "json".equals(subtype)
        || subtype.endsWith("+json"));
  }

  private static HttpResponse check(HttpService delegate, ServiceRequestContext ctx, AggregatedHttpRequest body,
      int maxMessageBytes) {
    if (body.content().length() > maxMessageBytes) {
      return JsonErrors.respond(HttpStatus.REQUEST_ENTITY_TOO_LARGE, JsonErrors.tooLarge());
    }
    if (!body.content().isEmpty()) {
      Optional<String> problem = StrictJson.problem(body.content().array());
      if (problem.isPresent()) {
        return JsonErrors.respond(HttpStatus.BAD_REQUEST, JsonErrors.malformed(problem.get()));
      }
    }
    HttpRequest again = body.toHttpRequest();
    ctx.updateRequest(again);
    try {
      return delegate.serve(ctx, again);
    } catch (Exception e) {
      return HttpResponse.ofFailure(e);
    }
  }
}

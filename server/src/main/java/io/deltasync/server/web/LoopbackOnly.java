package io.deltasync.server.web;

import com.google.rpc.Code;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.SimpleDecoratingHttpService;
import io.deltasync.server.error.Errors;
import io.deltasync.v1.ErrorReason;
import java.net.URI;

/**
 * With anonymous access (DELTASYNC_AUTH=none, loopback only): refuses a request whose Host (or HTTP/2 authority) or
 * Origin is not a loopback name. A web page on any site can rebind its own name to 127.0.0.1 (DNS rebinding) and
 * is then same-origin with this port; its requests still carry its own name in Host and Origin.
 */
final class LoopbackOnly extends SimpleDecoratingHttpService {
  LoopbackOnly(HttpService delegate) {
    super(delegate);
  }

  @Override
  public HttpResponse serve(ServiceRequestContext ctx, HttpRequest req) throws Exception {
    String authority = req.authority();
    String origin = req.headers().get("origin");
    if (!loopbackAuthority(authority) || origin != null && !loopbackOrigin(origin)) {
      return JsonErrors.respond(HttpStatus.FORBIDDEN, Errors.status(Code.PERMISSION_DENIED,
          ErrorReason.ERROR_REASON_PERMISSION_DENIED, "Host '" + authority + "'"
              + (origin == null ? "" : " / Origin '" + origin + "'") + ": anonymous access (DELTASYNC_AUTH=none) "
              + "answers only requests for a loopback name (localhost, 127.0.0.1, [::1]); see docs/http.md"));
    }
    return unwrap().serve(ctx, req);
  }

  static boolean loopbackAuthority(String authority) {
    if (authority == null || authority.isEmpty()) {
      return false;
    }
    try {
      return loopbackHost(URI.create("http://" + authority).getHost());
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static boolean loopbackOrigin(String origin) {
    try {
      URI uri = URI.create(origin);
      return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && loopbackHost(uri.getHost());
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static boolean loopbackHost(String host) {
    if (host == null) {
      return false;
    }
    String name = host.toLowerCase(java.util.Locale.ROOT);
    if (name.startsWith("[") && name.endsWith("]")) {
      name = name.substring(1, name.length() - 1);
    }
    return name.equals("localhost") || name.endsWith(".localhost") || name.equals("::1")
        || name.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }
}

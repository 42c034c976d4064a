package io.deltasync.server.web;

import com.linecorp.armeria.common.grpc.GrpcSerializationFormats;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.file.FileService;
import com.linecorp.armeria.server.grpc.GrpcService;
import com.linecorp.armeria.server.grpc.HttpJsonTranscodingOptions;
import com.linecorp.armeria.server.grpc.HttpJsonTranscodingQueryParamMatchRule;
import io.deltasync.server.WebConfig;
import io.deltasync.server.auth.AuthSettings;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.netty.handler.ssl.ClientAuth;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP port: the gRPC services the Netty port serves, behind the same interceptors (authentication and
 * permissions, metrics, the log context), over gRPC-Web (binary and JSON) and HTTP/JSON transcoding of their
 * {@code google.api.http} paths, plus the web console's static files. Armeria, not a hand-written gateway: one
 * implementation of each RPC, several protocols (docs/http.md says why a second port).
 */
public final class WebServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);
  /** Where the console's files live in the server's jar. */
  static final String CONSOLE_RESOURCES = "io/deltasync/server/web/console";

  /** The console's Content-Security-Policy: its own script, style and calls; no frames, no plugins. */
  static final String CONSOLE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      + "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

  private final Server server;

  private WebServer(Server server) {
    this.server = server;
  }

  /**
   * Serves {@code services} wrapped in {@code interceptors} (in the order of {@link ServerInterceptors#intercept},
   * the last one runs first, as on the gRPC port) on the configured HTTP port.
   */
  public static WebServer start(WebConfig config, AuthSettings auth, List<ServerServiceDefinition> services,
      List<ServerInterceptor> interceptors, int maxMessageBytes) {
    Objects.requireNonNull(config, "config");
    int port = config.port().orElseThrow(() -> new IllegalArgumentException("config.port: empty (expected: set)"));
    config.checkExposure(auth);
    var grpc = GrpcService.builder()
        .supportedSerializationFormats(GrpcSerializationFormats.values())
        // Requests parsed as on the gRPC port (protobuf) and strictly (JSON): WebMarshalling.
        .jsonMarshallerFactory(WebMarshalling.Json::new)
        // A failure of the port itself (not a status a service chose) is logged, as the gRPC port logs them.
        .exceptionHandler((ctx, status, cause, metadata) -> {
          if (!(cause instanceof io.grpc.StatusRuntimeException) && !(cause instanceof io.grpc.StatusException)) {
            log.warn("{} failed on the HTTP port: {}", ctx.path(), status, cause);
          }
          return null;
        })
        .enableHttpJsonTranscoding(HttpJsonTranscodingOptions.builder()
            // ?client_id=... as the proto names it, and ?clientId=... as proto3 JSON does.
            .queryParamMatchRules(HttpJsonTranscodingQueryParamMatchRule.ORIGINAL_FIELD,
                HttpJsonTranscodingQueryParamMatchRule.LOWER_CAMEL_CASE)
            .errorHandler(new JsonErrors())
            .build())
        // The implementations block on JDBC: never on an event loop.
        .useBlockingTaskExecutor(true)
        .maxRequestMessageLength(maxMessageBytes);
    // No response limit: the services size their pages for DELTASYNC_MAX_MESSAGE_BYTES of protobuf, and the same
    // page as JSON text can be several times larger (escaped characters, base64, field names).
    for (ServerServiceDefinition service : services) {
      grpc.addService(WebMarshalling.forArmeria(ServerInterceptors.intercept(service, interceptors)));
    }
    ServerBuilder builder = Server.builder()
        // WatchChanges streams live for as long as the token does; the session's own heartbeats and stall rule
        // end dead ones.
        .requestTimeout(Duration.ZERO)
        .maxRequestLength(maxMessageBytes + 64L * 1024)
        .service(grpc.build(), service -> service.decorate(JsonBodies.checking(maxMessageBytes)))
        .errorHandler(new WebErrors());
    if (auth.mode() == AuthSettings.Mode.NONE) {
      // Anonymous access: only a client on this machine may call, and a web page whose name was rebound to
      // 127.0.0.1 (DNS rebinding) is not one.
      builder.decorator(LoopbackOnly::new);
    }
    InetSocketAddress address = new InetSocketAddress(config.host(), port);
    AuthSettings.Tls tls = auth.tls();
    if (tls.enabled()) {
      builder.https(address).tls(tls.certFile().get().toFile(), tls.keyFile().get().toFile());
      tls.clientCaFile().ifPresent(ca -> builder.tlsCustomizer(ssl -> ssl.trustManager(ca.toFile())
          .clientAuth(ClientAuth.REQUIRE)));
    } else {
      builder.http(address);
    }
    if (config.console()) {
      HttpService files = FileService.builder(WebServer.class.getClassLoader(), CONSOLE_RESOURCES)
          .serveCompressedFiles(false).build()
          .decorate((delegate, ctx, req) -> {
            // Its own files only, never in a frame (clickjacking), never sniffed as another type.
            ctx.addAdditionalResponseHeader("content-security-policy", CONSOLE_POLICY);
            ctx.addAdditionalResponseHeader("x-frame-options", "DENY");
            ctx.addAdditionalResponseHeader("x-content-type-options", "nosniff");
            ctx.addAdditionalResponseHeader("referrer-policy", "no-referrer");
            return delegate.serve(ctx, req);
          });
      builder.serviceUnder("/console/", files)
          .service("/", (ctx, req) -> com.linecorp.armeria.common.HttpResponse.ofRedirect("/console/"));
    }
    Server server = builder.build();
    server.start().join();
    log.info("Serving gRPC-Web and HTTP/JSON{} on {}:{}", config.console() ? " and the console (/console/)" : "",
        config.host(), server.activeLocalPort());
    return new WebServer(server);
  }

  /** The port it listens on (useful when configured with port 0). */
  public int port() {
    return server.activeLocalPort();
  }

  @Override
  public void close() {
    server.stop().join();
  }
}

package io.deltasync.server;

import java.util.Map;
import java.util.OptionalInt;

/**
 * Settings of the HTTP port, which serves the same services over gRPC-Web and HTTP/JSON, and the web console
 * (docs/http.md).
 *
 * @param port the HTTP port; empty = not served (the default), 0 = any free port
 * @param host the address it listens on (loopback by default); the gRPC port's TLS and plaintext rules apply to it
 * @param console whether the web console is served at /console/
 */
public record WebConfig(OptionalInt port, String host, boolean console) {

  /** The defaults: no HTTP port. */
  public static WebConfig defaults() {
    return from(Map.of());
  }

  /** Reads the HTTP settings from the given variables. */
  public static WebConfig from(Map<String, String> env) {
    ServerConfig.Settings s = new ServerConfig.Settings(env);
    OptionalInt port = s.raw("DELTASYNC_HTTP_PORT") == null ? OptionalInt.empty()
        : OptionalInt.of(s.integer("DELTASYNC_HTTP_PORT", 0, 0, 65535));
    return new WebConfig(port, s.string("DELTASYNC_HTTP_HOST", "127.0.0.1"), s.bool("DELTASYNC_CONSOLE", true));
  }

  /** The same rules as the gRPC port: plaintext and anonymous access only on loopback, unless told otherwise. */
  public void checkExposure(io.deltasync.server.auth.AuthSettings auth) {
    boolean loopback;
    try {
      loopback = java.net.InetAddress.getByName(host()).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      throw new ConfigException("DELTASYNC_HTTP_HOST: '" + host() + "' (expected: an address of this machine)");
    }
    if (loopback) {
      return;
    }
    if (!auth.tls().enabled() && !auth.tls().allowPlaintext()) {
      throw new ConfigException("DELTASYNC_HTTP_HOST: '" + host() + "' without TLS (expected: "
          + "DELTASYNC_TLS_CERT_FILE and DELTASYNC_TLS_KEY_FILE, or DELTASYNC_ALLOW_PLAINTEXT=true behind a proxy "
          + "that terminates TLS; plaintext is only served on loopback by default)");
    }
    if (auth.mode() == io.deltasync.server.auth.AuthSettings.Mode.NONE) {
      throw new ConfigException("DELTASYNC_AUTH: 'none' (expected: token when the HTTP port listens on "
          + host() + "; anonymous access is only allowed on loopback, see docs/security.md)");
    }
  }

  /** A copy serving HTTP on {@code newPort} (0 = any free port). */
  public WebConfig withPort(int newPort) {
    return new WebConfig(OptionalInt.of(newPort), host, console);
  }
}

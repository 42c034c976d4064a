package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.WebConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The console's security headers, the port's own errors as JSON, and the loopback names of anonymous access. */
class WebSecurityHeadersIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_AUTH", "none", "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0")).withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword())
          .withWeb(WebConfig.defaults().withPort(0)));

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private String base() {
    return "http://127.0.0.1:" + server.server().httpPort().orElseThrow();
  }

  @Test
  void theConsoleIsServedWithItsSecurityHeaders() throws Exception {
    for (String file : new String[] {"/console/", "/console/console.js"}) {
      HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base() + file)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("content-security-policy").orElse(""))
          .contains("script-src 'self'").contains("frame-ancestors 'none'");
      assertThat(response.headers().firstValue("x-frame-options")).hasValue("DENY");
      assertThat(response.headers().firstValue("x-content-type-options")).hasValue("nosniff");
    }
  }

  @Test
  void anUnknownPathIsAJsonErrorWithAReason() throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(base() + "/sync/nope")).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.headers().firstValue("content-type").orElse("")).startsWith("application/json");
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("code").asInt()).isEqualTo(5);
    assertThat(body.get("details").get(0).get("reason").asText()).isNotEmpty();
  }

  @Test
  void loopbackNamesAreServedAndAForeignOriginIsRefused() throws Exception {
    HttpResponse<String> local = http.send(HttpRequest.newBuilder(URI.create(base() + "/sync/metrics"))
        .header("origin", base()).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(local.statusCode()).as(local.body()).isEqualTo(200);
    HttpResponse<String> foreign = http.send(HttpRequest.newBuilder(URI.create(base() + "/sync/metrics"))
        .header("origin", "http://attacker.example").GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(foreign.statusCode()).isEqualTo(403);
    JsonNode body = JSON.readTree(foreign.body());
    assertThat(body.get("code").asInt()).isEqualTo(7);
    assertThat(body.get("details").get(0).get("reason").asText()).isEqualTo("PERMISSION_DENIED");
  }

  @Test
  void aRebindingPageGetsA403() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.server().httpPort().orElseThrow())) {
      OutputStream out = socket.getOutputStream();
      out.write(("GET /sync/status?client_id=x HTTP/1.1\r\nHost: attacker.example\r\nconnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String answer = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 403").contains("PERMISSION_DENIED");
    }
  }
}

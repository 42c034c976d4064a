package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestCertificates;
import io.deltasync.server.testing.TestPostgres;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP port serves HTTPS with the gRPC port's certificate, and requires client certificates when it does. */
class WebTlsIT {
  @TempDir
  Path dir;

  private static DeltaSyncServer start(Map<String, String> env) throws Exception {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    Map<String, String> all = new HashMap<>(env);
    all.put("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0");
    all.put("DELTASYNC_AUTH", "none");
    all.put("DELTASYNC_HTTP_PORT", "0");
    return DeltaSyncServer.start(TestServerConfig.from(all).withPort(0)
        .withDatabase(database.url(), database.user(), database.password()));
  }

  private static HttpClient trusting(Path cert) throws Exception {
    KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
    trusted.load(null, null);
    try (InputStream in = Files.newInputStream(cert)) {
      trusted.setCertificateEntry("server", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(trusted);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(null, trust.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(tls).build();
  }

  private static HttpRequest status(String scheme, DeltaSyncServer server) {
    return HttpRequest.newBuilder(URI.create(scheme + "://127.0.0.1:" + server.httpPort().orElseThrow()
        + "/sync/status")).build();
  }

  @Test
  void theHttpPortServesHttpsWithTheConfiguredCertificate() throws Exception {
    TestCertificates.Pem pem = TestCertificates.selfSigned(dir, "server");
    try (DeltaSyncServer server = start(Map.of("DELTASYNC_TLS_CERT_FILE", pem.cert().toString(),
        "DELTASYNC_TLS_KEY_FILE", pem.key().toString()))) {
      HttpResponse<String> answer = trusting(pem.cert()).send(status("https", server),
          HttpResponse.BodyHandlers.ofString());
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      assertThat(answer.body()).contains("serverCursor");
      assertThatThrownBy(() -> HttpClient.newHttpClient().send(status("http", server),
          HttpResponse.BodyHandlers.ofString())).isInstanceOf(java.io.IOException.class);
    }
  }

  @Test
  void aClientCaMakesTheHttpPortRequireClientCertificates() throws Exception {
    TestCertificates.Pem pem = TestCertificates.selfSigned(dir, "server");
    TestCertificates.Pem ca = TestCertificates.selfSigned(dir, "client");
    try (DeltaSyncServer server = start(Map.of("DELTASYNC_TLS_CERT_FILE", pem.cert().toString(),
        "DELTASYNC_TLS_KEY_FILE", pem.key().toString(), "DELTASYNC_TLS_CLIENT_CA_FILE", ca.cert().toString()))) {
      assertThatThrownBy(() -> trusting(pem.cert()).send(status("https", server),
          HttpResponse.BodyHandlers.ofString())).isInstanceOf(java.io.IOException.class);
    }
  }
}

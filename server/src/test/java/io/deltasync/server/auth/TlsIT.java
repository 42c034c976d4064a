package io.deltasync.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.ConfigException;
import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.TestCertificates;
import io.deltasync.server.testing.TestPostgres;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS from certificate and key files, client certificates when a client CA is set, and plaintext only on loopback. */
class TlsIT {
  @TempDir
  Path dir;

  private record Pem(Path cert, Path key) {}

  private Pem selfSigned(String name) throws Exception {
    TestCertificates.Pem pem = TestCertificates.selfSigned(dir, name);
    return new Pem(pem.cert(), pem.key());
  }

  private static DeltaSyncServer start(Map<String, String> env) throws IOException {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    Map<String, String> all = new HashMap<>(env);
    all.put("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0");
    all.put("DELTASYNC_AUTH", "none");
    return DeltaSyncServer.start(TestServerConfig.from(all).withPort(0)
        .withDatabase(database.url(), database.user(), database.password()));
  }

  private static HealthCheckResponse.ServingStatus health(int port, ChannelCredentials credentials)
      throws InterruptedException {
    ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", port, credentials).build();
    try {
      return HealthGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void servesTlsFromFilesAndRefusesPlaintextClients() throws Exception {
    Pem server = selfSigned("server");
    try (DeltaSyncServer running = start(Map.of("DELTASYNC_TLS_CERT_FILE", server.cert().toString(),
        "DELTASYNC_TLS_KEY_FILE", server.key().toString()))) {
      ChannelCredentials trusting = TlsChannelCredentials.newBuilder().trustManager(server.cert().toFile()).build();

      assertThat(health(running.port(), trusting)).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      assertThatThrownBy(() -> health(running.port(), InsecureChannelCredentials.create()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    }
  }

  @Test
  void withAClientCaEveryClientPresentsACertificate() throws Exception {
    Pem server = selfSigned("server");
    Pem client = selfSigned("client");
    try (DeltaSyncServer running = start(Map.of("DELTASYNC_TLS_CERT_FILE", server.cert().toString(),
        "DELTASYNC_TLS_KEY_FILE", server.key().toString(), "DELTASYNC_TLS_CLIENT_CA_FILE", client.cert().toString()))) {
      ChannelCredentials anonymous = TlsChannelCredentials.newBuilder().trustManager(server.cert().toFile()).build();
      ChannelCredentials withCertificate = TlsChannelCredentials.newBuilder().trustManager(server.cert().toFile())
          .keyManager(client.cert().toFile(), client.key().toFile()).build();

      assertThat(health(running.port(), withCertificate)).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      assertThatThrownBy(() -> health(running.port(), anonymous)).isInstanceOf(StatusRuntimeException.class);
    }
  }

  @Test
  void plaintextOrAnonymousAccessOnAnotherAddressDoesNotStart() {
    assertThatThrownBy(() -> TestServerConfig.from(Map.of("DELTASYNC_TLS_CERT_FILE", "/x.crt")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_TLS_KEY_FILE");
    // Checked before anything is opened: no database is needed to refuse.
    assertThatThrownBy(() -> DeltaSyncServer.start(TestServerConfig.from(Map.of("DELTASYNC_HOST", "0.0.0.0",
        "DELTASYNC_DATABASE_URL", "jdbc:postgresql://127.0.0.1:1/none", "DELTASYNC_JWT_HS256_SECRET",
        "a-secret-of-at-least-32-bytes-0123456789"))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("without TLS");
    assertThatThrownBy(() -> DeltaSyncServer.start(TestServerConfig.from(Map.of("DELTASYNC_HOST", "0.0.0.0",
        "DELTASYNC_DATABASE_URL", "jdbc:postgresql://127.0.0.1:1/none", "DELTASYNC_ALLOW_PLAINTEXT", "true"))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_AUTH");
  }
}

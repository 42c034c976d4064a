package io.deltasync.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.ConfigException;
import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
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
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS from certificate and key files, client certificates when a client CA is set, and plaintext only on loopback. */
class TlsIT {
  @TempDir
  Path dir;

  /** A self-signed certificate and its key as PEM files, made with the JDK's keytool. */
  private record Pem(Path cert, Path key) {}

  private Pem selfSigned(String name) throws Exception {
    Path store = dir.resolve(name + ".p12");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process process = new ProcessBuilder(keytool, "-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname",
        "secp256r1", "-dname", "CN=localhost", "-ext", "san=ip:127.0.0.1,dns:localhost", "-validity", "2",
        "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit")
        .redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor()).as(output).isZero();
    KeyStore keys = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      keys.load(in, "changeit".toCharArray());
    }
    Key key = keys.getKey(name, "changeit".toCharArray());
    Base64.Encoder base64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
    Pem pem = new Pem(dir.resolve(name + ".crt"), dir.resolve(name + ".key"));
    Files.writeString(pem.cert(), "-----BEGIN CERTIFICATE-----\n"
        + base64.encodeToString(keys.getCertificate(name).getEncoded()) + "\n-----END CERTIFICATE-----\n");
    Files.writeString(pem.key(), "-----BEGIN PRIVATE KEY-----\n" + base64.encodeToString(key.getEncoded())
        + "\n-----END PRIVATE KEY-----\n");
    return pem;
  }

  private static DeltaSyncServer start(Map<String, String> env) throws IOException {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    Map<String, String> all = new HashMap<>(env);
    all.put("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0");
    all.put("DELTASYNC_AUTH", "none");
    return DeltaSyncServer.start(ServerConfig.from(all).withPort(0)
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
    assertThatThrownBy(() -> ServerConfig.from(Map.of("DELTASYNC_TLS_CERT_FILE", "/x.crt")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_TLS_KEY_FILE");
    // Checked before anything is opened: no database is needed to refuse.
    assertThatThrownBy(() -> DeltaSyncServer.start(ServerConfig.from(Map.of("DELTASYNC_HOST", "0.0.0.0",
        "DELTASYNC_DATABASE_URL", "jdbc:postgresql://127.0.0.1:1/none", "DELTASYNC_JWT_HS256_SECRET",
        "a-secret-of-at-least-32-bytes-0123456789"))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("without TLS");
    assertThatThrownBy(() -> DeltaSyncServer.start(ServerConfig.from(Map.of("DELTASYNC_HOST", "0.0.0.0",
        "DELTASYNC_DATABASE_URL", "jdbc:postgresql://127.0.0.1:1/none", "DELTASYNC_ALLOW_PLAINTEXT", "true"))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("DELTASYNC_AUTH");
  }
}

package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tokens verified with keys from an identity provider's JWKS URL: served here over HTTPS on loopback with a
 * self-signed certificate made for the test, fetched, cached, and fetched again when the provider rotates its keys.
 */
class JwksUrlIT {
  private static final RSAKey FIRST = rsa("first");
  private static final RSAKey ROTATED = rsa("rotated");
  private static final AtomicReference<JWKSet> SERVED = new AtomicReference<>(
      new JWKSet(List.<JWK>of(FIRST.toPublicJWK())));
  private static final AtomicInteger FETCHES = new AtomicInteger();
  private static final HttpsServer PROVIDER;
  private static final Path CA;

  static {
    try {
      Path dir = Files.createTempDirectory("jwks");
      Path store = dir.resolve("provider.p12");
      CA = dir.resolve("ca.pem");
      String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
      run(keytool, "-genkeypair", "-alias", "provider", "-keyalg", "EC", "-groupname", "secp256r1",
          "-dname", "CN=localhost", "-ext", "san=ip:127.0.0.1,dns:localhost", "-validity", "2",
          "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit");
      run(keytool, "-exportcert", "-rfc", "-alias", "provider", "-keystore", store.toString(),
          "-storepass", "changeit", "-file", CA.toString());
      KeyStore keys = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(store)) {
        keys.load(in, "changeit".toCharArray());
      }
      KeyManagerFactory managers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      managers.init(keys, "changeit".toCharArray());
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(managers.getKeyManagers(), null, null);
      PROVIDER = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      PROVIDER.setHttpsConfigurator(new HttpsConfigurator(tls));
      PROVIDER.createContext("/.well-known/jwks.json", exchange -> {
        FETCHES.incrementAndGet();
        byte[] body = SERVED.get().toString().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      });
      PROVIDER.start();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withAuth(
      AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET,
          "DELTASYNC_JWT_JWKS_URL", "https://127.0.0.1:" + PROVIDER.getAddress().getPort() + "/.well-known/jwks.json",
          "DELTASYNC_JWT_JWKS_CA_FILE", CA.toString(),
          "DELTASYNC_JWT_ISSUER", Credentials.ISSUER, "DELTASYNC_JWT_AUDIENCE", Credentials.AUDIENCE))));

  @AfterAll
  static void stopProvider() {
    PROVIDER.stop(0);
  }

  private static void run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + ": " + output);
    }
  }

  private static RSAKey rsa(String kid) {
    try {
      return new RSAKeyGenerator(2048).keyID(kid).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String signed(JWK key, JWSAlgorithm algorithm) throws JOSEException {
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(algorithm).keyID(key.getKeyID()).build(),
        claims("idp-user", List.of("reader"), List.of("idp-scope")).build());
    jwt.sign(new RSASSASigner((RSAKey) key));
    return jwt.serialize();
  }

  private static void pull(String token) {
    SyncServiceGrpc.newBlockingStub(Credentials.bearer(server.channel(), token))
        .withDeadlineAfter(60, TimeUnit.SECONDS).pull(PullRequest.getDefaultInstance());
  }

  @Test
  void keysComeFromTheProviderAndFollowItsRotation() throws Exception {
    pull(signed(FIRST, JWSAlgorithm.RS256));
    int fetched = FETCHES.get();
    assertThat(fetched).isPositive();
    pull(signed(FIRST, JWSAlgorithm.RS256));
    assertThat(FETCHES.get()).as("cached, not fetched per token").isEqualTo(fetched);

    // The provider rotates: a token with the new key id makes the server fetch the set again.
    SERVED.set(new JWKSet(List.<JWK>of(ROTATED.toPublicJWK())));
    pull(signed(ROTATED, JWSAlgorithm.RS256));
    assertThat(FETCHES.get()).isGreaterThan(fetched);

    // A key the provider never published is refused, without a hint.
    RSAKey stranger = rsa("stranger");
    assertThatThrownBy(() -> pull(signed(stranger, JWSAlgorithm.RS256)))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
          assertThat(e.getStatus().getDescription()).isEqualTo("the credential is not valid");
        });
  }

  @Test
  void aSymmetricKeyThePublishedSetCarriesNeverVerifiesATokenEvenBesideAnHs256Secret() throws Exception {
    pull(Credentials.hs256(claims("alice", List.of("reader"), List.of("a")).build()));
    byte[] leaked = "a-symmetric-key-anyone-can-read-from-the-jwks".getBytes(StandardCharsets.UTF_8);
    com.nimbusds.jose.jwk.OctetSequenceKey published = new com.nimbusds.jose.jwk.OctetSequenceKey.Builder(leaked)
        .keyID("leaked").build();
    JWKSet before = SERVED.get();
    SERVED.set(new JWKSet(List.<JWK>of(FIRST.toPublicJWK(), published)));
    try {
      SignedJWT forged = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("leaked").build(),
          claims("mallory", List.of("admin"), List.of("*")).build());
      forged.sign(new com.nimbusds.jose.crypto.MACSigner(leaked));
      assertThatThrownBy(() -> pull(forged.serialize()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
      // The configured secret still works.
      pull(Credentials.hs256(claims("alice", List.of("reader"), List.of("a")).build()));
    } finally {
      SERVED.set(before);
    }
  }
}

package io.deltasync.server.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.Base64;

/** Self-signed certificates for TLS tests, made with the JDK's keytool. */
public final class TestCertificates {
  private TestCertificates() {}

  /** A certificate and its key as PEM files. */
  public record Pem(Path cert, Path key) {}

  /** A self-signed certificate for localhost and 127.0.0.1, written to {@code dir} as {@code name}.crt/.key. */
  public static Pem selfSigned(Path dir, String name) throws Exception {
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
}

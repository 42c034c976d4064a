package io.deltasync.server.auth;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the public keys of a PEM file (PUBLIC KEY or CERTIFICATE blocks; RSA, EC P-256/P-384/P-521 or Ed25519) as
 * JWKs. Read with the JDK rather than nimbus's PEM support, which needs BouncyCastle on the class path.
 */
final class PublicKeys {
  private static final Pattern BLOCK = Pattern.compile(
      "-----BEGIN (PUBLIC KEY|CERTIFICATE)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

  private PublicKeys() {}

  static List<JWK> parse(String pem) throws GeneralSecurityException {
    List<JWK> keys = new ArrayList<>();
    Matcher m = BLOCK.matcher(pem);
    while (m.find()) {
      byte[] der = Base64.getMimeDecoder().decode(m.group(2));
      PublicKey key = m.group(1).equals("CERTIFICATE")
          ? CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der)).getPublicKey()
          : publicKey(der);
      keys.add(jwk(key, keys.size()));
    }
    if (keys.isEmpty()) {
      throw new GeneralSecurityException("no PUBLIC KEY or CERTIFICATE block");
    }
    return keys;
  }

  private static PublicKey publicKey(byte[] der) throws GeneralSecurityException {
    for (String algorithm : List.of("RSA", "EC", "Ed25519")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der));
      } catch (GeneralSecurityException notThisOne) {
        // try the next algorithm
      }
    }
    throw new GeneralSecurityException("a PUBLIC KEY that is neither RSA, nor EC, nor Ed25519");
  }

  private static JWK jwk(PublicKey key, int index) throws GeneralSecurityException {
    String kid = "pem-" + index;
    if (key instanceof RSAPublicKey rsa) {
      if (rsa.getModulus().bitLength() < 2048) {
        throw new GeneralSecurityException("an RSA key of " + rsa.getModulus().bitLength()
            + " bits (expected: >= 2048)");
      }
      return new RSAKey.Builder(rsa).keyUse(KeyUse.SIGNATURE).keyID(kid).build();
    }
    if (key instanceof ECPublicKey ec) {
      return new ECKey.Builder(Curve.forECParameterSpec(ec.getParams()), ec).keyUse(KeyUse.SIGNATURE).keyID(kid)
          .build();
    }
    if (Ed25519Keys.isEd25519(key)) {
      return Ed25519Keys.jwk(key, kid);
    }
    throw new GeneralSecurityException("a " + key.getAlgorithm()
        + " key (expected: RSA, EC or Ed25519)");
  }
}

package io.deltasync.server.testing;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.UnaryOperator;

/** Test credentials: tokens signed (or not) in every way the server must accept or refuse, and channels carrying them. */
public final class Credentials {
  /** The HS256 secret test servers accept. */
  public static final String SECRET = "test-secret-of-at-least-32-bytes-0123456789";
  /** The issuer test servers require. */
  public static final String ISSUER = "https://issuer.test";
  /** The audience test servers require. */
  public static final String AUDIENCE = "deltasync";
  /** An RSA key pair whose public half test servers accept. */
  public static final KeyPair RSA = generate("RSA", null);
  /** An EC P-256 key pair whose public half test servers accept. */
  public static final KeyPair EC = generate("EC", "secp256r1");

  private Credentials() {}

  private static KeyPair generate(String algorithm, String curve) {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
      if (curve != null) {
        generator.initialize(new ECGenParameterSpec(curve));
      } else {
        generator.initialize(2048);
      }
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The PEM text of a public key. */
  public static String pem(java.security.PublicKey key) {
    return "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(key.getEncoded()) + "\n-----END PUBLIC KEY-----\n";
  }

  /** Writes both public keys (RSA, EC) to a PEM file in {@code dir}. */
  public static Path publicKeyFile(Path dir) throws IOException {
    Path file = dir.resolve("keys-" + UUID.randomUUID() + ".pem");
    Files.writeString(file, pem(RSA.getPublic()) + pem(EC.getPublic()));
    return file;
  }

  /** Variables of a server that requires tokens: the HS256 secret, the public keys, issuer and audience. */
  public static Map<String, String> tokenServer(Path publicKeys) {
    return Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET", SECRET,
        "DELTASYNC_JWT_PUBLIC_KEY_FILE", publicKeys.toString(), "DELTASYNC_JWT_ISSUER", ISSUER,
        "DELTASYNC_JWT_AUDIENCE", AUDIENCE);
  }

  /** Valid claims for {@code sub}: issuer, audience, an hour of validity, roles and scopes. */
  public static JWTClaimsSet.Builder claims(String sub, List<String> roles, List<String> scopes) {
    Instant now = Instant.now();
    return new JWTClaimsSet.Builder().subject(sub).issuer(ISSUER).audience(AUDIENCE)
        .issueTime(Date.from(now)).expirationTime(Date.from(now.plus(Duration.ofHours(1))))
        .claim("roles", roles).claim("scopes", scopes);
  }

  /** An HS256 token signed with the server's secret. */
  public static String hs256(JWTClaimsSet claims) {
    return hs256(claims, SECRET.getBytes(StandardCharsets.UTF_8));
  }

  /** An HS256 token signed with {@code key}. */
  public static String hs256(JWTClaimsSet claims, byte[] key) {
    try {
      SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
      jwt.sign(new MACSigner(key));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An RS256 token signed with {@code keys} (kid as given, may be null). */
  public static String rs256(JWTClaimsSet claims, KeyPair keys, String kid) {
    try {
      SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(kid).build(), claims);
      jwt.sign(new RSASSASigner(keys.getPrivate()));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An ES256 token signed with {@link #EC}. */
  public static String es256(JWTClaimsSet claims) {
    try {
      SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.ES256), claims);
      jwt.sign(new ECDSASigner((java.security.interfaces.ECPrivateKey) EC.getPrivate()));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A token signed with an Ed25519 key by the JDK ({@code alg} as given: "EdDSA" or "Ed25519"; kid may be null),
   * assembled by hand: nimbus's own Ed25519 signer needs Google Tink.
   */
  public static String ed25519(JWTClaimsSet claims, KeyPair keys, String alg, String kid) {
    try {
      JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.parse(alg)).keyID(kid).build();
      String input = header.toBase64URL() + "." + com.nimbusds.jose.util.Base64URL.encode(
          claims.toString().getBytes(StandardCharsets.UTF_8));
      java.security.Signature signer = java.security.Signature.getInstance("Ed25519");
      signer.initSign(keys.getPrivate());
      signer.update(input.getBytes(StandardCharsets.US_ASCII));
      return input + "." + com.nimbusds.jose.util.Base64URL.encode(signer.sign());
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An unsigned token ({@code alg: none}). */
  public static String unsigned(JWTClaimsSet claims) {
    return new PlainJWT(claims).serialize();
  }

  /** The claims changed by {@code change}. */
  public static JWTClaimsSet with(JWTClaimsSet.Builder claims, UnaryOperator<JWTClaimsSet.Builder> change) {
    return change.apply(claims).build();
  }

  /** A channel sending {@code authorization: Bearer token}. */
  public static Channel bearer(Channel channel, String token) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  /** A channel sending {@code x-api-key: key}. */
  public static Channel apiKey(Channel channel, String key) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER), key);
    return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
  }
}

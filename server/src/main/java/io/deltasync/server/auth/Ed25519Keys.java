package io.deltasync.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jca.JCAContext;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.JWSKeySelector;
import com.nimbusds.jose.proc.JWSVerifierFactory;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.Base64URL;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.EdECPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * EdDSA (Ed25519) tokens, verified with the JDK's own Ed25519 rather than nimbus's verifier, which needs Google Tink
 * on the class path and takes Tink keys, not the JDK keys nimbus's key selection hands out. Accepted under the
 * algorithm names {@code EdDSA} (RFC 8037) and {@code Ed25519} (RFC 9864); Ed448 is not accepted.
 */
final class Ed25519Keys {
  /** The JWS algorithm names of Ed25519 signatures. */
  static final Set<JWSAlgorithm> ALGORITHMS = Set.of(JWSAlgorithm.EdDSA, JWSAlgorithm.Ed25519);

  // DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING }.
  private static final byte[] X509_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");
  private static final int RAW_LENGTH = 32;

  private Ed25519Keys() {}

  /** Whether a JDK public key is an Ed25519 key. */
  static boolean isEd25519(PublicKey key) {
    return key instanceof EdECPublicKey ed && ed.getParams().getName().equalsIgnoreCase("Ed25519");
  }

  /** The JWK (OKP, crv Ed25519) of a JDK Ed25519 public key. */
  static OctetKeyPair jwk(PublicKey key, String kid) {
    byte[] encoded = key.getEncoded();
    byte[] raw = Arrays.copyOfRange(encoded, encoded.length - RAW_LENGTH, encoded.length);
    return new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(raw)).keyUse(KeyUse.SIGNATURE).keyID(kid)
        .build();
  }

  /** The JDK public key of an OKP JWK on curve Ed25519. */
  static PublicKey publicKey(OctetKeyPair jwk) throws GeneralSecurityException {
    byte[] raw = jwk.getX().decode();
    if (!Curve.Ed25519.equals(jwk.getCurve()) || raw.length != RAW_LENGTH) {
      throw new GeneralSecurityException("not an Ed25519 public key");
    }
    byte[] encoded = Arrays.copyOf(X509_PREFIX, X509_PREFIX.length + RAW_LENGTH);
    System.arraycopy(raw, 0, encoded, X509_PREFIX.length, RAW_LENGTH);
    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(encoded));
  }

  /**
   * Selects the keys of a token: for an Ed25519 token, the Ed25519 keys of {@code source} its header matches (by key
   * id when it names one) as JDK keys; for any other algorithm, what {@code others} selects.
   */
  static JWSKeySelector<SecurityContext> selector(JWKSource<SecurityContext> source,
      JWSKeySelector<SecurityContext> others) {
    return (header, context) -> {
      if (!ALGORITHMS.contains(header.getAlgorithm())) {
        return others.selectJWSKeys(header, context);
      }
      JWKMatcher matcher = new JWKMatcher.Builder().keyType(com.nimbusds.jose.jwk.KeyType.OKP)
          .curve(Curve.Ed25519).keyID(header.getKeyID()).keyUses(KeyUse.SIGNATURE, null).build();
      List<Key> keys = new ArrayList<>();
      for (JWK jwk : source.get(new JWKSelector(matcher), context)) {
        try {
          keys.add(publicKey(jwk.toOctetKeyPair().toPublicJWK()));
        } catch (GeneralSecurityException | RuntimeException unusable) {
          // Skipped, as nimbus skips keys it cannot use: one bad key in a provider's set must not refuse tokens
          // signed with the good ones.
        }
      }
      return keys;
    };
  }

  /** nimbus's verifiers, plus the JDK's Ed25519 for Ed25519 tokens. */
  static JWSVerifierFactory verifiers() {
    DefaultJWSVerifierFactory defaults = new DefaultJWSVerifierFactory();
    return new JWSVerifierFactory() {
      @Override
      public JWSVerifier createJWSVerifier(JWSHeader header, Key key) throws JOSEException {
        if (ALGORITHMS.contains(header.getAlgorithm()) && key instanceof PublicKey pk && isEd25519(pk)) {
          return new Verifier(pk);
        }
        return defaults.createJWSVerifier(header, key);
      }

      @Override
      public Set<JWSAlgorithm> supportedJWSAlgorithms() {
        Set<JWSAlgorithm> all = new java.util.HashSet<>(defaults.supportedJWSAlgorithms());
        all.addAll(ALGORITHMS);
        return all;
      }

      @Override
      public JCAContext getJCAContext() {
        return defaults.getJCAContext();
      }
    };
  }

  /** Checks an Ed25519 signature over the JWS signing input with the JDK. */
  private static final class Verifier implements JWSVerifier {
    private final PublicKey key;
    private final JCAContext jca = new JCAContext();

    Verifier(PublicKey key) {
      this.key = key;
    }

    @Override
    public boolean verify(JWSHeader header, byte[] signingInput, Base64URL signature) throws JOSEException {
      if (!ALGORITHMS.contains(header.getAlgorithm())) {
        return false;
      }
      try {
        Signature ed25519 = Signature.getInstance("Ed25519");
        ed25519.initVerify(key);
        ed25519.update(signingInput);
        return ed25519.verify(signature.decode());
      } catch (java.security.SignatureException malformed) {
        return false;
      } catch (GeneralSecurityException e) {
        throw new JOSEException("Ed25519: " + e.getMessage(), e);
      }
    }

    @Override
    public Set<JWSAlgorithm> supportedJWSAlgorithms() {
      return ALGORITHMS;
    }

    @Override
    public JCAContext getJCAContext() {
      return jca;
    }
  }
}

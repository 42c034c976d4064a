package io.deltasync.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;

/**
 * The development signing key: an HS256 secret the server creates in the embedded database's data directory on
 * first start when no other way of verifying tokens is configured, so that local development needs no identity
 * provider. {@code ./deltasync token} signs tokens with it. Never use it in production (docs/security.md).
 */
public final class DevelopmentKey {
  /** The key's file name inside the data directory. */
  public static final String FILE_NAME = "deltasync-dev-signing.key";

  private DevelopmentKey() {}

  /** Where the key of a data directory lives. */
  public static Path file(Path dataDirectory) {
    return dataDirectory.resolve(FILE_NAME);
  }

  /** The key of the data directory, created (readable by its owner only) if there is none yet. */
  public static byte[] loadOrCreate(Path dataDirectory) throws IOException {
    Path file = file(dataDirectory);
    if (!Files.exists(file)) {
      byte[] secret = new byte[32];
      new SecureRandom().nextBytes(secret);
      String encoded = Base64.getUrlEncoder().withoutPadding().encodeToString(secret) + "\n";
      try {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, encoded, StandardOpenOption.TRUNCATE_EXISTING);
      } catch (FileAlreadyExistsException raced) {
        // another process created it first: use that one
      } catch (UnsupportedOperationException noPosix) {
        Files.writeString(file, encoded, StandardOpenOption.CREATE_NEW);
      }
    }
    return load(file);
  }

  private static byte[] load(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.US_ASCII).strip();
    byte[] secret = Base64.getUrlDecoder().decode(text);
    if (secret.length < AuthSettings.MIN_SECRET_BYTES) {
      throw new IOException(file + ": not a development key (too short)");
    }
    return secret;
  }

  /**
   * A token signed with the data directory's key.
   *
   * @throws IOException when there is no key yet (the server creates it on its first start)
   */
  public static String token(Path dataDirectory, String sub, List<String> scopes, List<String> roles,
      Duration validFor) throws IOException {
    Path file = file(dataDirectory);
    if (!Files.exists(file)) {
      throw new IOException("no development key at " + file + ": start the server once (./deltasync serve) to "
          + "create it, or set DELTASYNC_DATA_DIR to the server's data directory");
    }
    Instant now = Instant.now();
    JWTClaimsSet claims = new JWTClaimsSet.Builder().subject(sub).issueTime(Date.from(now))
        .expirationTime(Date.from(now.plus(validFor))).claim("scopes", scopes).claim("roles", roles).build();
    try {
      SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
      jwt.sign(new MACSigner(load(file)));
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IOException("cannot sign: " + e.getMessage(), e);
    }
  }
}

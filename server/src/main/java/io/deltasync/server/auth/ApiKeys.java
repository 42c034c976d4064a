package io.deltasync.server.auth;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Static API keys for services, from a JSON file that stores only each key's SHA-256 digest (docs/security.md). The
 * file is read again when its modification time or size changes (checked at most once a second) and on
 * {@link #reload()} (SIGHUP); a file that no longer parses keeps the previous keys and is logged.
 */
final class ApiKeys {
  private static final Logger log = LoggerFactory.getLogger(ApiKeys.class);
  private static final Pattern DIGEST = Pattern.compile("[0-9a-f]{64}");
  private static final long CHECK_INTERVAL_NANOS = 1_000_000_000L;

  /**
   * One key.
   *
   * @param name the principal's id (used in {@code {sub}} of the sync rules and in logs)
   * @param roles its roles
   * @param read scope patterns it may read besides what the rules grant
   * @param write scope patterns it may write besides what the rules grant
   */
  record Key(String name, Set<String> roles, List<String> read, List<String> write) {}

  private final Path file;
  private volatile Map<String, Key> byDigest;
  private volatile FileTime modified;
  private volatile long size;
  private volatile long checkedNanos;

  ApiKeys(Path file) throws IOException {
    this.file = file;
    this.byDigest = read();
  }

  /** The key whose digest matches {@code presented}, if any. */
  Optional<Key> find(String presented) {
    checkFile();
    return Optional.ofNullable(byDigest.get(sha256(presented)));
  }

  /** The key whose secret has {@code digest}, as the file has it now. */
  Optional<Key> withDigest(String digest) {
    checkFile();
    return Optional.ofNullable(byDigest.get(digest));
  }

  /** The key named {@code name} as the file has it now, if it is still there (streams opened with it ask). */
  Optional<Key> named(String name) {
    checkFile();
    return byDigest.values().stream().filter(k -> k.name().equals(name)).findFirst();
  }

  private void checkFile() {
    long now = System.nanoTime();
    if (now - checkedNanos > CHECK_INTERVAL_NANOS) {
      checkedNanos = now;
      try {
        if (!Files.getLastModifiedTime(file).equals(modified) || Files.size(file) != size) {
          reload();
        }
      } catch (IOException e) {
        log.warn("Cannot check the API key file {}: {}; keeping the keys read before", file, e.toString());
      }
    }
  }

  /** Reads the file again; on failure keeps the keys it had. */
  synchronized void reload() {
    try {
      byDigest = read();
      log.info("Read {} API keys from {}", byDigest.size(), file);
    } catch (IOException e) {
      log.error("The API key file {} cannot be used: {}; keeping the keys read before", file, e.getMessage());
    }
  }

  @SuppressWarnings("unchecked")
  private Map<String, Key> read() throws IOException {
    FileTime time = Files.getLastModifiedTime(file);
    long bytes = Files.size(file);
    Map<String, Key> keys = new HashMap<>();
    try {
      Map<String, Object> json = JSONObjectUtils.parse(Files.readString(file));
      List<Object> entries = (List<Object>) json.getOrDefault("keys", List.of());
      for (int i = 0; i < entries.size(); i++) {
        Map<String, Object> entry = (Map<String, Object>) entries.get(i);
        String name = String.valueOf(entry.get("name"));
        String digest = String.valueOf(entry.get("sha256")).toLowerCase(java.util.Locale.ROOT);
        if (!DIGEST.matcher(digest).matches() || entry.get("name") == null) {
          throw new IOException("keys[" + i + "]: expected a name and a sha256 of 64 hex digits");
        }
        keys.put(digest, new Key(name, Set.copyOf(strings(entry.get("roles"))), strings(entry.get("read")),
            strings(entry.get("write"))));
      }
    } catch (ParseException | ClassCastException e) {
      throw new IOException(file + ": not an API key file (" + e.getMessage() + ")", e);
    }
    modified = time;
    size = bytes;
    return Map.copyOf(keys);
  }

  @SuppressWarnings("unchecked")
  private static List<String> strings(Object value) {
    return value == null ? List.of() : ((List<Object>) value).stream().map(String::valueOf).toList();
  }

  /** The digest the file stores for a key. */
  static String sha256(String key) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(key.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}

package io.deltasync.server;

import io.deltasync.server.auth.DevelopmentKey;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code deltasync token --sub alice --scope demo --role writer}: prints a token signed with the development key of
 * the data directory (DELTASYNC_DATA_DIR), for local development and the README's examples. Hand-parsed: four
 * options do not justify a command-line library.
 */
final class DevelopmentTokens {
  private static final String USAGE = "usage: deltasync token --sub NAME [--scope SCOPE]... [--role ROLE]... "
      + "[--valid-minutes N]   (roles: reader, writer, admin; default: writer, valid 24 hours)";

  private DevelopmentTokens() {}

  /** Prints the token; returns the exit code. */
  static int print(String[] args) {
    String sub = null;
    List<String> scopes = new ArrayList<>();
    List<String> roles = new ArrayList<>();
    long minutes = 24 * 60;
    try {
      for (int i = 0; i < args.length; i++) {
        String value = i + 1 < args.length ? args[i + 1] : null;
        switch (args[i]) {
          case "--sub" -> sub = value;
          case "--scope" -> scopes.add(value);
          case "--role" -> roles.add(value);
          case "--valid-minutes" -> minutes = Long.parseLong(value);
          default -> throw new IllegalArgumentException(args[i] + ": unknown option");
        }
        if (value == null) {
          throw new IllegalArgumentException(args[i] + ": needs a value");
        }
        i++;
      }
      if (sub == null || sub.isBlank()) {
        throw new IllegalArgumentException("--sub: required");
      }
      if (minutes < 1 || minutes > 60L * 24 * 365) {
        throw new IllegalArgumentException("--valid-minutes: " + minutes + " (expected: 1 to 525600)");
      }
    } catch (IllegalArgumentException e) {
      System.err.println("deltasync token: " + e.getMessage() + "\n" + USAGE);
      return 2;
    }
    try {
      ServerConfig config = ServerConfig.fromEnvironment();
      System.out.println(DevelopmentKey.token(config.dataDirectory(), sub, scopes,
          roles.isEmpty() ? List.of("writer") : roles, Duration.ofMinutes(minutes)));
      return 0;
    } catch (ConfigException | IOException e) {
      System.err.println("deltasync token: " + e.getMessage());
      return 1;
    }
  }
}

package io.deltasync.reliability;

import java.nio.file.Path;
import java.security.SecureRandom;

/** The suite's knobs (system properties, set by the module's pom; docs/reliability.md lists them). */
final class Chaos {
  /** Entity types and their conflict policies on the server: one type per policy the workload exercises. */
  static final String POLICIES = "note=last_write_wins,task=client_wins,memo=server_wins";

  static final String[] TYPES = {"note", "task", "memo"};
  static final String[] SCOPES = {"site-a", "site-b", "site-c"};

  private Chaos() {}

  static int integer(String name, int fallback) {
    String value = System.getProperty("reliability." + name);
    return value == null || value.isBlank() ? fallback : Integer.parseInt(value.strip());
  }

  /** The run's seed: reliability.seed if set, else a fresh one (printed by the caller so a failure reproduces). */
  static long seed() {
    String value = System.getProperty("reliability.seed");
    return value == null || value.isBlank() ? new SecureRandom().nextLong() : Long.parseLong(value.strip());
  }

  static Path logs() {
    return Path.of(System.getProperty("reliability.logs", "target/reliability"));
  }
}

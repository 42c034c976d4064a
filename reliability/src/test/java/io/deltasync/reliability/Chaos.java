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

  /**
   * Extra environment for every server the suite starts: reliability.serverEnv, "NAME=value,NAME=value" (for example
   * DELTASYNC_ADMISSION_STRIPES=0 to measure without per-entity admission).
   */
  static java.util.Map<String, String> serverEnvironment() {
    String value = System.getProperty("reliability.serverEnv", "");
    java.util.Map<String, String> env = new java.util.HashMap<>();
    for (String entry : value.split(",")) {
      if (!entry.isBlank()) {
        String[] parts = entry.strip().split("=", 2);
        env.put(parts[0], parts.length > 1 ? parts[1] : "");
      }
    }
    return env;
  }

  /** How many results of the history were rejections, by ErrorInfo reason (SERVER_BUSY, DATABASE_UNAVAILABLE…). */
  static java.util.Map<String, Integer> rejectionsByReason(History history) {
    java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
    for (History.Event event : history.events()) {
      if (event instanceof History.Answered answered
          && answered.result().getStatus() == io.deltasync.v1.DeltaStatus.DELTA_STATUS_REJECTED) {
        String reason = answered.result().getError().getDetailsList().stream()
            .filter(a -> a.is(com.google.rpc.ErrorInfo.class))
            .map(a -> {
              try {
                return a.unpack(com.google.rpc.ErrorInfo.class).getReason();
              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                return "unparsable";
              }
            }).findFirst().orElse("no reason");
        counts.merge(reason, 1, Integer::sum);
      }
    }
    return counts;
  }

  static Path logs() {
    return Path.of(System.getProperty("reliability.logs", "target/reliability"));
  }
}

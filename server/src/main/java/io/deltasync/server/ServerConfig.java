package io.deltasync.server;

import io.deltasync.v1.ConflictPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The server's configuration, read from environment variables. Every setting has a documented default
 * (README, "Configuration"); an invalid value stops start-up with a message naming the variable.
 *
 * @param host address to listen on
 * @param port port to listen on (0 = any free port)
 * @param dataDirectory the embedded PostgreSQL's data directory (unused with an external database)
 * @param databaseUrl JDBC URL of an external PostgreSQL; empty = embedded
 * @param databaseUser user for the external database
 * @param databasePassword password for the external database
 * @param poolSize the most database connections (also the bound on concurrent database work)
 * @param statementTimeout the longest one statement of the server may run (PostgreSQL's statement_timeout on the
 *     pooled connections); a request that needs longer is answered RESOURCE_EXHAUSTED, never left holding a
 *     connection
 * @param limits request limits
 * @param retryPolicy what clients are told about retrying
 * @param defaultConflictPolicy the policy for deltas that name none
 * @param operationalTransformEnabled whether the operational-transform policy may be used
 * @param tombstoneRetention how long tombstones are kept before clean-up may purge them
 * @param keepAliveTime how often the server pings an idle connection to detect dead clients
 * @param keepAliveTimeout how long a ping may go unanswered before the connection is closed
 * @param shutdownGrace how long shutdown waits for in-flight calls before cancelling them
 * @param stream settings of the Sync stream
 * @param conflicts per-entity-type policies and the clock-skew bound of last-write-wins
 * @param ops operations: metrics endpoint, clean-up retentions and schedule, log format ({@link OpsConfig})
 * @param auth authentication, permissions, sync rules and per-principal limits (docs/security.md)
 * @param web the HTTP port: gRPC-Web, HTTP/JSON and the web console (docs/http.md)
 * @param admission admission control in front of the database pool for pushes ({@link AdmissionConfig})
 * @param streamPages how the Sync stream sizes its pages, by bytes ({@link StreamPages})
 * @param scale serving many streams: the start-up warm-up ({@link ScaleConfig})
 * @param fanOut how live pages reach the streams ({@link FanOutConfig})
 * @param firstRound what is readied at start for the first round of traffic ({@link FirstRoundConfig})
 */
public record ServerConfig(
    String host,
    int port,
    Path dataDirectory,
    Optional<String> databaseUrl,
    String databaseUser,
    String databasePassword,
    int poolSize,
    Duration statementTimeout,
    Limits limits,
    RetryPolicy retryPolicy,
    ConflictPolicy defaultConflictPolicy,
    boolean operationalTransformEnabled,
    Duration tombstoneRetention,
    Duration keepAliveTime,
    Duration keepAliveTimeout,
    Duration shutdownGrace,
    Stream stream,
    Conflicts conflicts,
    OpsConfig ops,
    io.deltasync.server.auth.AuthSettings auth,
    WebConfig web,
    AdmissionConfig admission,
    StreamPages streamPages,
    ScaleConfig scale,
    FanOutConfig fanOut,
    FirstRoundConfig firstRound) {

  /**
   * Conflict settings beyond the default policy.
   *
   * @param byEntityType the policy of each entity type that has its own (else the default applies)
   * @param maxClockSkew how far ahead of the server's clock a client's timestamp may be; later ones are capped
   */
  public record Conflicts(Map<String, ConflictPolicy> byEntityType, Duration maxClockSkew) {
    /** Compact copy. */
    public Conflicts {
      byEntityType = Map.copyOf(byEntityType);
    }
  }

  /**
   * Settings of the Sync stream and of the connections streams run on.
   *
   * @param heartbeatInterval how often the server sends heartbeats; three silent intervals end a stream
   * @param maxQueuedChanges the most changes buffered per stream before it falls back to catching up
   * @param feedPollInterval how often the change feed polls when no notification wakes it
   * @param maxQueuedBytes the most bytes of changes buffered per stream before it falls back to catching up
   * @param stallTimeout how long a stream may leave what the server has for it unread (the transport not ready)
   *     before it is ended with RECONNECT; such a client may still answer HTTP/2 pings
   * @param maxStreamsPerClient the most Sync streams open at once for one client id
   * @param maxCallsPerConnection the most concurrent calls on one HTTP/2 connection
   * @param maxConnectionIdle a connection with no call for this long is closed (GOAWAY)
   * @param maxConnectionAge a connection is asked to go away after this long (GOAWAY), so that long-lived streams
   *     spread over nodes added since; zero = never
   * @param maxConnectionAgeGrace how long calls on an aged connection may still run before they are cancelled
   * @param shutdownDrain how long a stopping server reports NOT_SERVING before it tells streams to reconnect, so
   *     that load balancers stop routing new streams to it first
   */
  public record Stream(Duration heartbeatInterval, int maxQueuedChanges, Duration feedPollInterval,
      long maxQueuedBytes, Duration stallTimeout, int maxStreamsPerClient, int maxCallsPerConnection,
      Duration maxConnectionIdle, Duration maxConnectionAge, Duration maxConnectionAgeGrace,
      Duration shutdownDrain) {
    /** The three settings tests vary most, with the defaults for the rest but no shutdown drain. */
    public Stream(Duration heartbeatInterval, int maxQueuedChanges, Duration feedPollInterval) {
      this(heartbeatInterval, maxQueuedChanges, feedPollInterval, 64L * 1024 * 1024, Duration.ofSeconds(120), 8,
          100, Duration.ofMinutes(30), Duration.ZERO, Duration.ofMinutes(5), Duration.ZERO);
    }

    /** A copy with another shutdown drain delay. */
    public Stream withShutdownDrain(Duration drain) {
      return new Stream(heartbeatInterval, maxQueuedChanges, feedPollInterval, maxQueuedBytes, stallTimeout,
          maxStreamsPerClient, maxCallsPerConnection, maxConnectionIdle, maxConnectionAge, maxConnectionAgeGrace,
          drain);
    }

    /** A copy with another stall timeout. */
    public Stream withStallTimeout(Duration timeout) {
      return new Stream(heartbeatInterval, maxQueuedChanges, feedPollInterval, maxQueuedBytes, timeout,
          maxStreamsPerClient, maxCallsPerConnection, maxConnectionIdle, maxConnectionAge, maxConnectionAgeGrace,
          shutdownDrain);
    }
  }

  /** Default port: unassigned by IANA and unlikely to clash with common development servers. */
  public static final int DEFAULT_PORT = 7420;

  /**
   * Request limits.
   *
   * @param maxDeltasPerPush the most deltas in one push
   * @param maxDeltaDataBytes the most bytes of one delta's data, as JSON
   * @param pageSize the default and largest page of Pull (SYNC_BATCH_SIZE)
   * @param maxMessageBytes the most bytes of one inbound gRPC message
   * @param maxEditsPerDelta the most operational-transform edits in one delta (bounds the transform's work, which
   *     may run while the batch's transaction holds back the change feed's watermark)
   */
  public record Limits(int maxDeltasPerPush, int maxDeltaDataBytes, int pageSize, int maxMessageBytes,
      int maxEditsPerDelta) {
    /** The default of DELTASYNC_MAX_EDITS_PER_DELTA. */
    public static final int DEFAULT_MAX_EDITS_PER_DELTA = 1_000;

    /** Limits with the default bound on edits per delta. */
    public Limits(int maxDeltasPerPush, int maxDeltaDataBytes, int pageSize, int maxMessageBytes) {
      this(maxDeltasPerPush, maxDeltaDataBytes, pageSize, maxMessageBytes, DEFAULT_MAX_EDITS_PER_DELTA);
    }

    /** A copy with another bound on edits per delta. */
    public Limits withMaxEditsPerDelta(int edits) {
      return new Limits(maxDeltasPerPush, maxDeltaDataBytes, pageSize, maxMessageBytes, edits);
    }
  }

  /**
   * What clients are told about retrying: exponential backoff with full jitter.
   *
   * @param maxRetries the most attempts after the first
   * @param baseDelay the cap of the first retry's delay
   * @param maxDelay the largest cap
   * @param multiplier the cap's growth per retry
   */
  public record RetryPolicy(int maxRetries, Duration baseDelay, Duration maxDelay, double multiplier) {}

  /** Reads the configuration from the process environment. */
  public static ServerConfig fromEnvironment() {
    return from(System.getenv());
  }

  /** Reads the configuration from the given variables (the process environment, or a test's map). */
  public static ServerConfig from(Map<String, String> env) {
    Settings s = new Settings(env);
    String host = s.string("DELTASYNC_HOST", "127.0.0.1");
    int port = s.integer("DELTASYNC_PORT", DEFAULT_PORT, 0, 65535);
    Path dataDirectory = s.path("DELTASYNC_DATA_DIR", defaultDataDirectory(env));
    Optional<String> url = Optional.ofNullable(s.raw("DELTASYNC_DATABASE_URL"));
    if (url.isPresent() && !url.get().startsWith("jdbc:postgresql:")) {
      throw new ConfigException("DELTASYNC_DATABASE_URL: '" + url.get()
          + "' (expected: a PostgreSQL JDBC URL such as jdbc:postgresql://db.example:5432/deltasync)");
    }
    String user = s.string("DELTASYNC_DATABASE_USER", "postgres");
    String password = s.string("DELTASYNC_DATABASE_PASSWORD", "");
    int poolSize = s.integer("DELTASYNC_DB_POOL_SIZE", 10, 2, 1000);
    Duration statementTimeout = Duration.ofSeconds(s.integer("DELTASYNC_DB_STATEMENT_TIMEOUT_SECONDS", 30, 1,
        86_400));

    int batchSize = s.integer("SYNC_BATCH_SIZE", 50, 1, 10_000);
    int maxDeltas = s.integer("DELTASYNC_MAX_DELTAS_PER_PUSH", 500, 1, 100_000);
    // At most 512 KiB: the database refuses documents over 1 MiB as jsonb text (V6__guard_documents.sql), and compact
    // JSON of 512 KiB takes at most about 768 KiB in that form.
    int maxDataBytes = s.integer("DELTASYNC_MAX_DELTA_DATA_BYTES", 256 * 1024, 1, 512 * 1024);
    int maxMessageBytes = s.integer("DELTASYNC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024);
    int maxEdits = s.integer("DELTASYNC_MAX_EDITS_PER_DELTA", Limits.DEFAULT_MAX_EDITS_PER_DELTA, 1, 100_000);
    if (maxDataBytes > maxMessageBytes / 4) {
      // A change, a push result or a conflict can carry two documents; every one of them must fit a message.
      throw new ConfigException("DELTASYNC_MAX_DELTA_DATA_BYTES: " + maxDataBytes + " (expected: <= a quarter of "
          + "DELTASYNC_MAX_MESSAGE_BYTES, " + maxMessageBytes / 4 + ")");
    }

    int maxRetries = s.integer("SYNC_MAX_RETRIES", 5, 0, 100);
    Duration baseDelay = s.seconds("SYNC_BASE_DELAY", 1.0);
    Duration maxDelay = s.seconds("SYNC_MAX_DELAY", 32.0);
    if (maxDelay.compareTo(baseDelay) < 0) {
      throw new ConfigException("SYNC_MAX_DELAY: " + seconds(maxDelay) + " (expected: >= SYNC_BASE_DELAY, "
          + seconds(baseDelay) + ")");
    }
    double multiplier = s.decimal("SYNC_BACKOFF_MULTIPLIER", 2.0, 1.0, 10.0);

    ConflictPolicy policy = s.conflictPolicy("DEFAULT_CONFLICT_POLICY", ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);
    boolean ot = s.bool("ENABLE_OPERATIONAL_TRANSFORM", true);
    int tombstoneDays = s.integer("CLEANUP_TOMBSTONE_DAYS", 30, 1, 36_500);

    Duration keepAliveTime = Duration.ofSeconds(s.integer("DELTASYNC_KEEPALIVE_TIME_SECONDS", 30, 10, 86_400));
    Duration keepAliveTimeout = Duration.ofSeconds(s.integer("DELTASYNC_KEEPALIVE_TIMEOUT_SECONDS", 10, 1, 3_600));
    Duration shutdownGrace = Duration.ofSeconds(s.integer("DELTASYNC_SHUTDOWN_GRACE_SECONDS", 10, 0, 3_600));
    Stream stream = new Stream(
        Duration.ofSeconds(s.integer("DELTASYNC_HEARTBEAT_SECONDS", 15, 1, 3_600)),
        s.integer("DELTASYNC_STREAM_QUEUE_CHANGES", 1_000, 1, 1_000_000),
        Duration.ofMillis(s.integer("DELTASYNC_FEED_POLL_MILLIS", 250, 10, 60_000)),
        s.integer("DELTASYNC_STREAM_QUEUE_MIB", 64, 1, 4_096) * 1024L * 1024,
        Duration.ofSeconds(s.integer("DELTASYNC_STREAM_STALL_SECONDS", 120, 1, 86_400)),
        s.integer("DELTASYNC_MAX_STREAMS_PER_CLIENT", 8, 1, 10_000),
        s.integer("DELTASYNC_MAX_CALLS_PER_CONNECTION", 100, 1, 100_000),
        Duration.ofSeconds(s.integer("DELTASYNC_MAX_CONNECTION_IDLE_SECONDS", 1_800, 1, 86_400 * 7)),
        Duration.ofSeconds(s.integer("DELTASYNC_MAX_CONNECTION_AGE_SECONDS", 0, 0, 86_400 * 7)),
        Duration.ofSeconds(s.integer("DELTASYNC_MAX_CONNECTION_AGE_GRACE_SECONDS", 300, 0, 86_400)),
        Duration.ofSeconds(s.integer("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", 5, 0, 3_600)));
    Conflicts conflicts = new Conflicts(s.policiesByType("DELTASYNC_ENTITY_CONFLICT_POLICIES"),
        Duration.ofMillis(s.integer("DELTASYNC_MAX_CLOCK_SKEW_MILLIS", 2_000, 0, 86_400_000)));

    return new ServerConfig(host, port, dataDirectory, url, user, password, poolSize, statementTimeout,
        new Limits(maxDeltas, maxDataBytes, batchSize, maxMessageBytes, maxEdits),
        new RetryPolicy(maxRetries, baseDelay, maxDelay, multiplier),
        policy, ot, Duration.ofDays(tombstoneDays), keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts,
        OpsConfig.from(env), auth(env), WebConfig.from(env), AdmissionConfig.from(env), StreamPages.from(env),
        ScaleConfig.from(env), FanOutConfig.from(env), FirstRoundConfig.from(env));
  }

  /** A copy with other HTTP settings (docs/http.md). */
  public ServerConfig withWeb(WebConfig newWeb) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, newWeb, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy listening on another port (tests use 0). */
  public ServerConfig withPort(int newPort) {
    return new ServerConfig(host, newPort, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize, statementTimeout,
        limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention, keepAliveTime,
        keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy on an external database. */
  public ServerConfig withDatabase(String url, String user, String password) {
    return new ServerConfig(host, port, dataDirectory, Optional.of(url), user, password, poolSize, statementTimeout, limits,
        retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention, keepAliveTime,
        keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other limits. */
  public ServerConfig withLimits(Limits newLimits) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize, statementTimeout,
        newLimits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other conflict settings. */
  public ServerConfig withConflicts(ConflictPolicy newDefault, Conflicts newConflicts) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize, statementTimeout,
        limits, retryPolicy, newDefault, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, newConflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** A copy with operational transform enabled or disabled (ENABLE_OPERATIONAL_TRANSFORM). */
  public ServerConfig withOperationalTransform(boolean enabled) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize, statementTimeout,
        limits, retryPolicy, defaultConflictPolicy, enabled, tombstoneRetention, keepAliveTime, keepAliveTimeout,
        shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other stream settings. */
  public ServerConfig withStream(Stream newStream) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize, statementTimeout,
        limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, newStream, conflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other operations settings. */
  public ServerConfig withOps(OpsConfig newOps) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize, statementTimeout,
        limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, newOps, auth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other security settings. */
  public ServerConfig withAuth(io.deltasync.server.auth.AuthSettings newAuth) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, newAuth, web, admission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other admission settings. */
  public ServerConfig withAdmission(AdmissionConfig newAdmission) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, newAdmission, streamPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with another page sizing of the Sync stream. */
  public ServerConfig withStreamPages(StreamPages newPages) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, newPages, scale,
        fanOut, firstRound);
  }

  /** Returns a copy with other settings for serving many streams (the warm-up). */
  public ServerConfig withScale(ScaleConfig newScale) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages,
        newScale, fanOut, firstRound);
  }

  /** Returns a copy with another fan-out of live pages. */
  public ServerConfig withFanOut(FanOutConfig newFanOut) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages, scale,
        newFanOut, firstRound);
  }

  /** Returns a copy with other start-up readying for the first round of traffic. */
  public ServerConfig withFirstRound(FirstRoundConfig newFirstRound) {
    return new ServerConfig(host, port, dataDirectory, databaseUrl, databaseUser, databasePassword, poolSize,
        statementTimeout, limits, retryPolicy, defaultConflictPolicy, operationalTransformEnabled, tombstoneRetention,
        keepAliveTime, keepAliveTimeout, shutdownGrace, stream, conflicts, ops, auth, web, admission, streamPages, scale,
        fanOut, newFirstRound);
  }

  private static io.deltasync.server.auth.AuthSettings auth(Map<String, String> env) {
    try {
      return io.deltasync.server.auth.AuthSettings.from(env);
    } catch (IllegalArgumentException e) {
      throw new ConfigException(e.getMessage());
    }
  }

  // XDG base directory convention: user data outside the source tree, kept across runs and rebuilds.
  private static Path defaultDataDirectory(Map<String, String> env) {
    String xdg = env.get("XDG_DATA_HOME");
    Path base = xdg != null && !xdg.isBlank()
        ? Path.of(xdg)
        : Path.of(env.getOrDefault("HOME", System.getProperty("user.home")), ".local", "share");
    return base.resolve("deltasync").resolve("postgres");
  }

  private static String seconds(Duration d) {
    return d.toMillis() / 1000.0 + "s";
  }

  /** Typed access to the variables, with messages in the form "NAME: 'value' (expected: ...)". */
  record Settings(Map<String, String> env) {
    String raw(String name) {
      String value = env.get(name);
      return value == null || value.isBlank() ? null : value.trim();
    }

    String string(String name, String fallback) {
      String value = raw(name);
      return value == null ? fallback : value;
    }

    Path path(String name, Path fallback) {
      String value = raw(name);
      return value == null ? fallback : Path.of(value).toAbsolutePath();
    }

    int integer(String name, int fallback, int min, int max) {
      String value = raw(name);
      if (value == null) {
        return fallback;
      }
      try {
        int parsed = Integer.parseInt(value);
        if (parsed >= min && parsed <= max) {
          return parsed;
        }
      } catch (NumberFormatException ignored) {
        // reported below, with the expected range
      }
      throw new ConfigException(name + ": '" + value + "' (expected: an integer from " + min + " to " + max + ")");
    }

    double decimal(String name, double fallback, double min, double max) {
      String value = raw(name);
      if (value == null) {
        return fallback;
      }
      try {
        double parsed = Double.parseDouble(value);
        if (parsed >= min && parsed <= max) {
          return parsed;
        }
      } catch (NumberFormatException ignored) {
        // reported below, with the expected range
      }
      throw new ConfigException(name + ": '" + value + "' (expected: a number from " + min + " to " + max + ")");
    }

    Duration seconds(String name, double fallback) {
      double value = decimal(name, fallback, 0.001, 86_400);
      return Duration.ofNanos(Math.round(value * 1e9));
    }

    boolean bool(String name, boolean fallback) {
      String value = raw(name);
      if (value == null) {
        return fallback;
      }
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "true", "1", "yes", "on" -> true;
        case "false", "0", "no", "off" -> false;
        default -> throw new ConfigException(name + ": '" + value + "' (expected: true or false)");
      };
    }

    ConflictPolicy conflictPolicy(String name, ConflictPolicy fallback) {
      String value = raw(name);
      return value == null ? fallback : parsePolicy(name, value);
    }

    /** "type=policy,type=policy"; the type names follow the entity_type rules. */
    Map<String, ConflictPolicy> policiesByType(String name) {
      String value = raw(name);
      Map<String, ConflictPolicy> policies = new java.util.LinkedHashMap<>();
      if (value == null) {
        return policies;
      }
      for (String entry : value.split(",")) {
        String[] parts = entry.trim().split("=", 2);
        if (parts.length != 2 || !parts[0].trim().matches("[A-Za-z][A-Za-z0-9_.-]{0,63}")) {
          throw new ConfigException(name + ": '" + entry.trim() + "' (expected: entity_type=policy, for example "
              + "note=client_wins,task=manual)");
        }
        policies.put(parts[0].trim(), parsePolicy(name, parts[1].trim()));
      }
      return policies;
    }

    private static ConflictPolicy parsePolicy(String name, String value) {
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "last_write_wins" -> ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS;
        case "client_wins" -> ConflictPolicy.CONFLICT_POLICY_CLIENT_WINS;
        case "server_wins" -> ConflictPolicy.CONFLICT_POLICY_SERVER_WINS;
        case "operational_transform" -> ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM;
        case "manual" -> ConflictPolicy.CONFLICT_POLICY_MANUAL;
        default -> throw new ConfigException(name + ": '" + value
            + "' (expected: one of last_write_wins, client_wins, server_wins, operational_transform, manual)");
      };
    }
  }
}

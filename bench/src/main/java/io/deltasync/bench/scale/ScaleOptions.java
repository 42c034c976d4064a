package io.deltasync.bench.scale;

import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What to run, at what size. {@code --smoke} gives sizes small enough for the test suite; every size has its own
 * flag ({@code --help}).
 */
record ScaleOptions(Path out, Optional<String> databaseUrl, String databaseUser, String databasePassword,
    List<Integer> subscribers, int fanOutSeconds, int rate, int catchUpChanges, int initialRows,
    int initialRowsBefore, int idleStreams, int storm, int stormSubscribers, int stalledChanges,
    List<Integer> writeBatches, int writeDeltas, int writeClients, String serverHeap, boolean smoke, boolean jfr,
    Map<String, String> serverEnv, List<String> sections, List<String> serverJvmOptions, boolean fanOutTrace,
    int catchUpRounds, boolean clientCallbackPool, boolean stormSharedEventLoops) {

  /** The sections of a run, in the order they run. */
  static final List<String> SECTIONS = List.of("fan-out", "storm", "stalled", "memory", "catch-up", "initial",
      "write");

  static final String USAGE = """
      ScaleBenchmark: deltasync at scale against same-run baselines (see docs/performance.md).
        --out DIR                 where results go             (default bench/results/<UTC date>)
        --database-url URL        an external PostgreSQL (JDBC URL) instead of the embedded one
        --database-user U, --database-password P
        --subscribers L           fan-out sizes, one connection per subscriber      (default 100,1000)
        --fan-out-seconds N       how long the writer writes in each round          (default 20)
        --rate N                  changes per second the writer commits             (default 200)
        --catch-up N              changes a client is behind                        (default 100000)
        --catch-up-rounds N       catch-ups from the same cursor: the first (after start) and the
                                  last (steady) reported; as many JDBC reads, the best reported
                                                                                    (default 8)
        --initial-rows N          live rows of the initial-sync scope               (default 1000000)
        --initial-rows-before N   rows for the before/after page-sizing comparison  (default 30000)
        --idle-streams N          idle streams for memory per stream                (default 10000)
        --storm N                 streams opened at once beside live traffic        (default 5000)
        --storm-subscribers N     live subscribers measured during the storm        (default 100)
        --stalled-changes N       changes written while one consumer is stalled     (default 5000)
        --write-batches L         batch sizes of the write-cost sweep               (default 1,10,50,200,500)
        --write-deltas N          deltas per write measurement                      (default 4000)
        --write-clients N         concurrent writers                                (default 8)
        --server-heap SIZE        -Xms/-Xmx of the server JVM                       (default 2g)
        --server-env NAME=VALUE   a DELTASYNC_* setting of the server (repeatable), e.g. DELTASYNC_WARMUP=false
        --sections L              run only these sections, in their usual order     (default all:
                                  fan-out,storm,stalled,memory,catch-up,initial,write)
        --server-jvm OPTION       an option of the server JVM (repeatable), e.g. -Xlog:gc*:file=gc.log
        --fan-out-trace           write each fan-out round's worst latency per change (<scope>-trace.csv in --out)
        --jfr                     record the server with JFR (server.jfr, server-hot-methods.txt in --out)
        --client-callback-pool    fan-out subscribers get their messages on gRPC's default executor (a thread hop
                                  per message), as before the fifth pass, instead of on the transport's thread
        --storm-shared-event-loops  the storm's streams share the load client's event loops with the live
                                  subscribers (as before the seventh pass) instead of having their own
        --smoke                   tiny sizes and a 1 s delivery warm-up (the test suite's run); flags after it
                            still apply""";

  static ScaleOptions parse(String[] args) {
    Path out = null;
    Optional<String> url = Optional.empty();
    String user = "postgres";
    String password = "";
    List<Integer> subscribers = List.of(100, 1000);
    int seconds = 20;
    int rate = 200;
    int catchUp = 100_000;
    int initial = 1_000_000;
    int before = 30_000;
    int idle = 10_000;
    int storm = 5_000;
    int stormSubscribers = 100;
    int stalled = 5_000;
    List<Integer> batches = List.of(1, 10, 50, 200, 500);
    int writeDeltas = 4_000;
    int writeClients = 8;
    String heap = "2g";
    boolean smoke = false;
    boolean jfr = false;
    boolean trace = false;
    // The JIT settles on the catch-up path after about eight catch-ups of 100,000 changes (docs/performance.md,
    // "Seventh pass: catch-up"): the first is reported as the first after start, the last as the steady figure.
    int catchUpRounds = 8;
    boolean callbackPool = false;
    boolean stormSharedLoops = false;
    Map<String, String> serverEnv = new java.util.LinkedHashMap<>();
    List<String> sections = SECTIONS;
    List<String> jvmOptions = new java.util.ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String name = args[i];
      if (name.equals("--help") || name.equals("-h")) {
        throw new HelpRequested();
      }
      if (name.equals("--fan-out-trace")) {
        trace = true;
        continue;
      }
      if (name.equals("--jfr")) {
        jfr = true;
        continue;
      }
      if (name.equals("--client-callback-pool")) {
        callbackPool = true;
        continue;
      }
      if (name.equals("--storm-shared-event-loops")) {
        stormSharedLoops = true;
        continue;
      }
      if (name.equals("--smoke")) {
        smoke = true;
        subscribers = List.of(3, 12);
        seconds = 2;
        rate = 50;
        catchUp = 3_000;
        catchUpRounds = 2;
        initial = 5_000;
        before = 2_000;
        idle = 120;
        storm = 30;
        stormSubscribers = 3;
        stalled = 300;
        batches = List.of(1, 50);
        writeDeltas = 200;
        writeClients = 2;
        heap = "256m";
        // The server's delivery warm-up (up to 15 s by default) bounded to 1 s: the suite's run stays fast.
        serverEnv.put("DELTASYNC_WARMUP_DELIVERY_MILLIS", "1000");
        continue;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(name + " needs a value (see --help)");
      }
      String value = args[++i];
      switch (name) {
        case "--out" -> out = Path.of(value);
        case "--database-url" -> url = Optional.of(value);
        case "--database-user" -> user = value;
        case "--database-password" -> password = value;
        case "--subscribers" -> subscribers = list(name, value);
        case "--fan-out-seconds" -> seconds = positive(name, value);
        case "--rate" -> rate = positive(name, value);
        case "--catch-up" -> catchUp = positive(name, value);
        case "--catch-up-rounds" -> catchUpRounds = positive(name, value);
        case "--initial-rows" -> initial = positive(name, value);
        case "--initial-rows-before" -> before = positive(name, value);
        case "--idle-streams" -> idle = positive(name, value);
        case "--storm" -> storm = positive(name, value);
        case "--storm-subscribers" -> stormSubscribers = positive(name, value);
        case "--stalled-changes" -> stalled = positive(name, value);
        case "--write-batches" -> batches = list(name, value);
        case "--write-deltas" -> writeDeltas = positive(name, value);
        case "--write-clients" -> writeClients = positive(name, value);
        case "--server-heap" -> heap = value;
        case "--server-jvm" -> jvmOptions.add(value);
        case "--sections" -> {
          List<String> named = Stream.of(value.split(",")).map(String::trim).toList();
          for (String section : named) {
            if (!SECTIONS.contains(section)) {
              throw new IllegalArgumentException("--sections " + value + " (expected: some of " + SECTIONS + ")");
            }
          }
          sections = SECTIONS.stream().filter(named::contains).toList();
        }
        case "--server-env" -> {
          int eq = value.indexOf('=');
          if (eq < 1 || !value.startsWith("DELTASYNC_")) {
            throw new IllegalArgumentException("--server-env " + value + " (expected: DELTASYNC_NAME=value)");
          }
          serverEnv.put(value.substring(0, eq), value.substring(eq + 1));
        }
        default -> throw new IllegalArgumentException("unknown option " + name + " (see --help)");
      }
    }
    if (out == null) {
      out = Path.of("bench", "results", LocalDate.now(ZoneOffset.UTC).toString());
    }
    if (batches.stream().anyMatch(b -> b > 500)) {
      throw new IllegalArgumentException("--write-batches " + batches + " (expected: each <= 500, the server's "
          + "default DELTASYNC_MAX_DELTAS_PER_PUSH)");
    }
    return new ScaleOptions(out, url, user, password, subscribers, seconds, rate, catchUp, initial, before, idle,
        storm, stormSubscribers, stalled, batches, writeDeltas, writeClients, heap, smoke, jfr, Map.copyOf(serverEnv),
        sections,
        List.copyOf(jvmOptions), trace, catchUpRounds, callbackPool, stormSharedLoops);
  }

  /** Whether {@code section} (one of {@link #SECTIONS}) runs. */
  boolean runs(String section) {
    return sections.contains(section);
  }

  private static List<Integer> list(String name, String value) {
    return Stream.of(value.split(",")).map(String::trim).map(s -> positive(name, s)).sorted().distinct().toList();
  }

  private static int positive(String name, String value) {
    try {
      int parsed = Integer.parseInt(value);
      if (parsed >= 1) {
        return parsed;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw new IllegalArgumentException(name + " " + value + " (expected: a positive integer)");
  }

  /** --help was asked for. */
  static final class HelpRequested extends RuntimeException {
    HelpRequested() {
      super(null, null, false, false);
    }
  }
}

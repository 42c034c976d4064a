package io.deltasync.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * CPU time spent by this JVM and by one PostgreSQL cluster (its postmaster and every backend), read from the
 * operating system. On a machine shared with other work, wall-clock rates move with the load; the CPU time a
 * workload costs moves much less, so the benchmark reports it beside the rates. Linux only ({@code /proc});
 * elsewhere the PostgreSQL figure is absent.
 */
final class CpuMeter {
  private static final double TICK_MS = 10.0;  // USER_HZ is 100 on every Linux architecture we run on

  private final Path dataDirectory;

  /** Meters the cluster whose postmaster was started on {@code dataDirectory}. */
  CpuMeter(Path dataDirectory) {
    this.dataDirectory = dataDirectory;
  }

  /** CPU milliseconds so far: {JVM, PostgreSQL (NaN when unknown)}. */
  double[] sample() {
    double jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e6;
    return new double[] {jvm, postgresMillis()};
  }

  private double postgresMillis() {
    Path proc = Path.of("/proc");
    if (!Files.isDirectory(proc)) {
      return Double.NaN;
    }
    String marker = dataDirectory.toString();
    try (Stream<Path> entries = Files.list(proc)) {
      List<Path> pids = entries.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList();
      Set<String> postmasters = new HashSet<>();
      for (Path pid : pids) {
        String cmdline = read(pid.resolve("cmdline")).replace('\0', ' ');
        if (cmdline.contains("postgres") && cmdline.contains(marker)) {
          postmasters.add(pid.getFileName().toString());
        }
      }
      double ticks = 0;
      for (Path pid : pids) {
        String[] stat = fields(read(pid.resolve("stat")));
        // fields after "(comm)": state is [0], ppid [1], utime [11], stime [12]
        if (stat.length > 12 && (postmasters.contains(pid.getFileName().toString())
            || postmasters.contains(stat[1]))) {
          ticks += Long.parseLong(stat[11]) + Long.parseLong(stat[12]);
        }
      }
      return postmasters.isEmpty() ? Double.NaN : ticks * TICK_MS;
    } catch (IOException e) {
      return Double.NaN;
    }
  }

  private static String[] fields(String stat) {
    int close = stat.lastIndexOf(')');
    return close < 0 ? new String[0] : stat.substring(close + 1).trim().split(" ");
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, java.nio.charset.StandardCharsets.ISO_8859_1);
    } catch (IOException | RuntimeException e) {
      return "";  // the process ended meanwhile
    }
  }
}

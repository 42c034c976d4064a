package io.deltasync.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The unary Push clients of {@link WriteBenchmark} in a JVM of their own ({@code --client-process}), so that the
 * benchmark's JVM CPU is the server's alone. Started once per benchmark run by {@link ClientProcess} (so its code
 * warms up over the rounds like the in-process clients'), it reads one command per measurement from stdin:
 *
 * <pre>
 *   RUN scope clients batch perClient   connects every client, answers READY
 *   GO                                   runs the workload, answers DONE clientCpuMillis latencies…(ns)
 * </pre>
 */
public final class WriteClient {
  private WriteClient() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] command = line.trim().split(" ");
      if (!command[0].equals("RUN")) {
        throw new IllegalStateException("expected RUN, got " + line);
      }
      String scope = command[1];
      WriteBenchmark.Shape shape = new WriteBenchmark.Shape(Integer.parseInt(command[2]),
          Integer.parseInt(command[3]), Integer.parseInt(command[4]));
      List<WriteBenchmark.Run.Pusher> pushers = new ArrayList<>();
      for (int t = 0; t < shape.clients(); t++) {
        pushers.add(WriteBenchmark.Run.unaryPusher(port, scope + "-c" + t));
      }
      List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
      ExecutorService threads = Executors.newFixedThreadPool(shape.clients());
      try {
        System.out.println("READY");
        System.out.flush();
        String go = in.readLine();
        if (!"GO".equals(go)) {
          throw new IllegalStateException("expected GO, got " + go);
        }
        double cpuBefore = cpuMillis();
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < shape.clients(); t++) {
          int client = t;
          futures.add(threads.submit(() -> {
            WriteBenchmark.Run.createThenUpdate(pushers.get(client), scope + "-c" + client, scope,
                client * shape.perClient(), shape, latencies);
            return null;
          }));
        }
        for (Future<?> future : futures) {
          future.get(600, TimeUnit.SECONDS);
        }
        double cpu = cpuMillis() - cpuBefore;
        StringBuilder done = new StringBuilder("DONE ").append(cpu);
        synchronized (latencies) {
          latencies.forEach(l -> done.append(' ').append(l));
        }
        System.out.println(done);
        System.out.flush();
      } finally {
        threads.shutdownNow();
        pushers.forEach(WriteBenchmark.Run.Pusher::close);
      }
    }
  }

  private static double cpuMillis() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime() / 1e6;
  }
}

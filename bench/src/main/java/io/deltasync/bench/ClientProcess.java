package io.deltasync.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The benchmark's side of a {@link WriteClient} process: one per run, one measurement at a time. */
final class ClientProcess implements AutoCloseable {
  private final Process process;
  private final BufferedReader out;
  private final Writer in;

  private ClientProcess(Process process) {
    this.process = process;
    this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
  }

  /** Starts the client JVM, same Java and class path as this one, against the server on {@code port}. */
  static ClientProcess start(int port) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder builder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        WriteClient.class.getName(), Integer.toString(port));
    builder.redirectError(ProcessBuilder.Redirect.INHERIT);
    return new ClientProcess(builder.start());
  }

  /**
   * One measurement: the client process connects its clients, then the clock and the CPU meters run from GO until
   * it reports DONE. CPU milliseconds are {this JVM (the server), PostgreSQL, the client process}.
   */
  WriteBenchmark.Measured push(WriteBenchmark.Shape shape, String scope) throws IOException {
    send("RUN " + scope + " " + shape.clients() + " " + shape.batch() + " " + shape.perClient());
    expect("READY");
    double[] cpuBefore = WriteBenchmark.cpuMeter.sample();
    long begin = System.nanoTime();
    send("GO");
    String done = read();
    double millis = (System.nanoTime() - begin) / 1e6;
    double[] cpuAfter = WriteBenchmark.cpuMeter.sample();
    String[] fields = done.split(" ");
    if (!fields[0].equals("DONE")) {
      throw new IllegalStateException("client process: expected DONE, got " + done);
    }
    List<Long> latencies = new ArrayList<>(fields.length - 2);
    for (int i = 2; i < fields.length; i++) {
      latencies.add(Long.parseLong(fields[i]));
    }
    return new WriteBenchmark.Measured(millis, List.copyOf(latencies),
        new double[] {cpuAfter[0] - cpuBefore[0], cpuAfter[1] - cpuBefore[1], Double.parseDouble(fields[1])});
  }

  private void send(String line) throws IOException {
    in.write(line + "\n");
    in.flush();
  }

  private void expect(String what) throws IOException {
    String line = read();
    if (!what.equals(line)) {
      throw new IllegalStateException("client process: expected " + what + ", got " + line);
    }
  }

  private String read() throws IOException {
    String line = out.readLine();
    if (line == null) {
      throw new IllegalStateException("client process ended (exit " + exitCode() + "); its errors are above");
    }
    return line;
  }

  private String exitCode() {
    try {
      return process.waitFor(10, TimeUnit.SECONDS) ? Integer.toString(process.exitValue()) : "still running";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

  @Override
  public void close() throws IOException {
    in.close();  // end of input: the client process ends
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroy();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroy();
    }
  }
}

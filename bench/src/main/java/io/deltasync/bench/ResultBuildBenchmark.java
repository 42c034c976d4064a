package io.deltasync.bench;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Struct;
import io.deltasync.server.store.Json;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.security.MessageDigest;
import org.jooq.JSONB;

/**
 * CPU per delta of the two pieces of per-delta JVM work issue 11's fifth part changed, each old form against the new
 * one, alternated in one thread and measured in that thread's CPU time (not wall time, so the load of a shared
 * machine changes little): the document of a plainly applied delta's result, read back from the stored jsonb text
 * ({@code Json.toStruct}, before) or built from the delta's own document ({@code Json.asStored}, after); and the
 * delta digest, through a stream (before) or into an exact-size array (after). The benchmark's documents
 * ({@link PushBenchmark#document}).
 *
 * <pre>java -cp "bench/target/classes:$(cat bench/target/classpath.txt)" io.deltasync.bench.ResultBuildBenchmark</pre>
 */
public final class ResultBuildBenchmark {
  private static final int N = 200_000;
  private static volatile Object sink;

  private ResultBuildBenchmark() {}

  public static void main(String[] args) throws Exception {
    Struct[] documents = new Struct[1000];
    String[] stored = new String[documents.length];
    Delta[] deltas = new Delta[documents.length];
    for (int i = 0; i < documents.length; i++) {
      documents[i] = PushBenchmark.document(i);
      // As jsonb prints it back (keys by length, then bytewise), as PgJDBC hands it over.
      stored[i] = "{\"n\": " + i + ", \"body\": \"a small benchmark document\", \"done\": false, \"title\": \"note "
          + i + "\"}";
      deltas[i] = Delta.newBuilder().setDeltaId(java.util.UUID.randomUUID().toString()).setScope("bench")
          .setEntityType("note").setEntityId("e" + i).setOperation(Operation.OPERATION_CREATE)
          .setData(documents[i]).build();
    }
    ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    System.out.println("ns of CPU per delta (this thread), " + N + " deltas per round");
    System.out.println("round  toStruct(stored)  asStored(sent)   digest via stream  digest into array");
    for (int round = 0; round < 8; round++) {
      long t0 = cpu.getCurrentThreadCpuTime();
      for (int i = 0; i < N; i++) {
        sink = Json.toStruct(JSONB.valueOf(stored[i % stored.length]));
      }
      long t1 = cpu.getCurrentThreadCpuTime();
      for (int i = 0; i < N; i++) {
        sink = Json.asStored(documents[i % documents.length]);
      }
      long t2 = cpu.getCurrentThreadCpuTime();
      for (int i = 0; i < N; i++) {
        sink = viaStream(deltas[i % deltas.length]);
      }
      long t3 = cpu.getCurrentThreadCpuTime();
      for (int i = 0; i < N; i++) {
        sink = intoArray(deltas[i % deltas.length]);
      }
      long t4 = cpu.getCurrentThreadCpuTime();
      System.out.printf("%5d  %16d  %14d  %17d  %17d%n", round, (t1 - t0) / N, (t2 - t1) / N, (t3 - t2) / N,
          (t4 - t3) / N);
    }
  }

  private static byte[] viaStream(Delta delta) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(delta.getSerializedSize());
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.useDeterministicSerialization();
    delta.writeTo(out);
    out.flush();
    return MessageDigest.getInstance("SHA-256").digest(bytes.toByteArray());
  }

  private static byte[] intoArray(Delta delta) throws Exception {
    byte[] bytes = new byte[delta.getSerializedSize()];
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.useDeterministicSerialization();
    delta.writeTo(out);
    out.checkNoSpaceLeft();
    return MessageDigest.getInstance("SHA-256").digest(bytes);
  }
}

package io.deltasync.bench.scale;

import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Puts the server's JFR execution samples inside time windows into buckets of the catch-up and initial-state path
 * (docs/performance.md, "Seventh pass: catch-up"): the first rule, in the order below, that matches any frame of a
 * sample's stack decides its bucket. Usage, with the windows in UTC on the day the tool runs (or as ISO instants),
 * e.g. the rounds of a catch-up from the benchmark's log:
 *
 * <pre>
 * java -cp bench/target/classes io.deltasync.bench.scale.JfrBuckets server.jfr 20:23:13 20:23:20 [from to ...]
 * </pre>
 *
 * <p>With {@code LEAVES=1} in the environment it also lists each bucket's most sampled leaf methods.
 */
public final class JfrBuckets {
  private JfrBuckets() {
  }

  static final String[][] RULES = {
    // the first rule (in this order) matching any frame of the stack decides
    {"store.DocumentWire#", "jsonb text -> Struct wire bytes (DocumentWire)"},
    {"wire.DocumentBytes#", "serialization (a page to one array, DocumentBytes)"},
    {"Json#toStruct", "jsonb text -> Struct (Json.toStruct)"},
    {"store.Json#", "jsonb text -> Struct (Json.toStruct)"},
    {"changefeed.Cursor#encode", "cursor per change (Cursor.encode)"},
    {"ChangeFeed#encodeAt", "frontier cursor (encodeAt, anchor query)"},
    {"stream.PageSizer#fitting", "page sizing (getSerializedSize per change)"},
    {"MessageBudget#split", "message split (getSerializedSize per change)"},
    {"SyncSession#answeredOnThisStream", "answeredOnThisStream"},
    {"store.Rows#", "Rows (row -> Change, other than JSON)"},
    {"store.BoundedReads$LogRow#", "Rows (row -> Change, other than JSON)"},
    {"org.postgresql", "PgJDBC (read, decode columns)"},
    {"org.jooq.impl.AbstractQuery#getSQL", "jOOQ (render the statement)"},
    {"org.jooq.impl.AbstractQuery#getBindValues", "jOOQ (render the statement)"},
    {"CodedOutputStream", "serialization (protobuf writeTo)"},
    {"com.zaxxer.hikari", "pool (Hikari)"},
    {"store.BoundedReads#", "BoundedReads (other)"},
    {"ChangeDelivery#changesMessage", "message build (SyncResponse/SyncChanges)"},
    {"ChangeDelivery#enqueueInitialState", "message build (SyncResponse/SyncChanges)"},
    {"ChangeDelivery#enqueueChanges", "message build (SyncResponse/SyncChanges)"},
    {"io.grpc.protobuf", "serialization (protobuf writeTo inside gRPC)"},
    {"MessageFramer", "gRPC framing (MessageFramer)"},
    {"io.grpc.netty.shaded.io.netty", "Netty"},
    {"io.grpc", "gRPC (other)"},
    {"io.perfmark", "gRPC (other)"},
    {"ReadAhead", "ReadAhead (other)"},
    {"com.google.protobuf", "protobuf (other)"},
    {"io.deltasync", "deltasync (other)"},
  };


  private static Instant at(LocalDate day, String time) {
    return time.contains("T") ? Instant.parse(time) : LocalDateTime.of(day, LocalTime.parse(time))
        .toInstant(ZoneOffset.UTC);
  }

  /** Prints the buckets. */
  public static void main(String[] a) throws Exception {
    List<Instant[]> windows = new ArrayList<>();
    LocalDate day = LocalDate.now(ZoneOffset.UTC);
    for (int i = 1; i + 1 < a.length; i += 2) {
      windows.add(new Instant[] {at(day, a[i]), at(day, a[i + 1])});
    }
    Map<String, Integer> buckets = new TreeMap<>();
    Map<String, Integer> threads = new TreeMap<>();
    Map<String, Integer> leaves = new HashMap<>();
    Map<String, Map<String, Integer>> leavesPerBucket = new HashMap<>();
    int total = 0;
    try (RecordingFile f = new RecordingFile(Path.of(a[0]))) {
      while (f.hasMoreEvents()) {
        RecordedEvent e = f.readEvent();
        if (!e.getEventType().getName().equals("jdk.ExecutionSample")) continue;
        Instant t = e.getStartTime();
        boolean in = false;
        for (Instant[] w : windows) in |= !t.isBefore(w[0]) && t.isBefore(w[1]);
        if (!in) continue;
        RecordedStackTrace st = e.getStackTrace();
        if (st == null) continue;
        total++;
        RecordedThread th = e.getThread("sampledThread");
        String tn = th == null ? "?" : th.getJavaName();
        if (tn == null) tn = "?";
        tn = tn.replaceAll("[0-9]+", "N");
        threads.merge(tn, 1, Integer::sum);
        String bucket = null;
        for (String[] r : RULES) {
          String[] p = r[0].split("#", -1);
          for (RecordedFrame fr : st.getFrames()) {
            String c = fr.getMethod().getType().getName();
            String m = fr.getMethod().getName();
            if (c.contains(p[0]) && (p.length == 1 || m.startsWith(p[1]))) { bucket = r[1]; break; }
          }
          if (bucket != null) break;
        }
        if (bucket == null) bucket = "other (JDK only stack)";
        if (bucket.startsWith("jsonb text")) {
          // The JSON conversion split by its leaf: Jackson's parser, or building (writing) what it parsed.
          String leafClass = st.getFrames().get(0).getMethod().getType().getName();
          bucket += leafClass.startsWith("com.fasterxml") ? ": JSON parse (Jackson)" : ": build / write";
        }
        buckets.merge(bucket, 1, Integer::sum);
        RecordedFrame leaf = st.getFrames().get(0);
        String l = leaf.getMethod().getType().getName() + "." + leaf.getMethod().getName();
        leaves.merge(l, 1, Integer::sum);
        leavesPerBucket.computeIfAbsent(bucket, k -> new HashMap<>()).merge(l, 1, Integer::sum);
      }
    }
    System.out.println("samples " + total);
    final int tot = total;
    buckets.entrySet().stream().sorted((x, y) -> y.getValue() - x.getValue()).forEach(en ->
        System.out.printf("%5d %5.1f%%  %s%n", en.getValue(), 100.0 * en.getValue() / tot, en.getKey()));
    System.out.println("-- threads");
    threads.entrySet().stream().sorted((x, y) -> y.getValue() - x.getValue()).limit(15).forEach(en ->
        System.out.printf("%5d  %s%n", en.getValue(), en.getKey()));
    if (System.getenv("LEAVES") != null) {
      for (var b : leavesPerBucket.entrySet()) {
        System.out.println("-- " + b.getKey());
        b.getValue().entrySet().stream().sorted((x, y) -> y.getValue() - x.getValue()).limit(8).forEach(en ->
            System.out.printf("   %5d  %s%n", en.getValue(), en.getKey()));
      }
    }
  }
}

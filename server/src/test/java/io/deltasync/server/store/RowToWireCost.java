package io.deltasync.server.store;

import com.google.protobuf.CodedOutputStream;
import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.jooq.JSONB;

/**
 * CPU per change of a catch-up row's conversion to the wire, the tree path (Json.toStruct, then protobuf's writeTo
 * an OutputStream as gRPC's marshaller does) against the wire path ({@link DocumentWire}, then one array as
 * wire.DocumentBytes does), alternated in one JVM, pages of 1,000 changes (docs/performance.md, "Eighth pass:
 * catch-up"). The benchmark's document by default; {@code -Dlarge=true}: 20 fields, nested objects, about 1 KiB. Not a
 * test (nothing asserted, no name Surefire runs): after {@code ./mvnw -o install -DskipTests} and {@code bench/run.sh
 * --help} (which writes bench/target/classpath.txt),
 *
 * <pre>
 * java -cp server/target/test-classes:$(cat bench/target/classpath.txt) io.deltasync.server.store.RowToWireCost
 * </pre>
 */
public final class RowToWireCost {
  // A cursor as long as the server's (83 characters).
  static final String CURSOR = "v1.AAAAAAAAAAEAAAAAAAAD6AAAAAAAAAPoAAAAAAAAB9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  static final OffsetDateTime AT = OffsetDateTime.of(2026, 12, 1, 23, 0, 0, 123_456_000, ZoneOffset.UTC);
  static final OutputStream SINK = new OutputStream() {
    @Override public void write(int b) {}
    @Override public void write(byte[] b, int o, int l) {}
  };

  static String doc(int g) {
    if (Boolean.getBoolean("large")) {
      StringBuilder d = new StringBuilder("{");
      for (int f = 0; f < 20; f++) {
        d.append(f == 0 ? "" : ", ").append("\"field").append(f).append("\": ");
        d.append(switch (f % 4) {
          case 0 -> "\"text of field " + f + " in document " + g + "\"";
          case 1 -> Integer.toString(g * f);
          case 2 -> "{\"a\": 1.5, \"b\": [1, 2, 3], \"c\": \"nested\"}";
          default -> "true";
        });
      }
      return d.append('}').toString();
    }
    // As jsonb prints the benchmark's document (bench Seeds.entities).
    return "{\"n\": " + g + ", \"body\": \"a small benchmark document\", \"done\": false, \"title\": \"note "
        + g + "\"}";
  }

  static Change tree(int g, String data) {
    // What the tree path did per row: the Struct read, its depth checked, the entity and change built.
    Entity entity = Entity.newBuilder().setScope("catchup").setEntityType("note")
        .setEntityId(String.format("%09d", g)).setData(Json.toStruct(JSONB.valueOf(data))).setRowVersion(1)
        .setEtag("\"e" + g + "-1\"").setLastModifiedAt(Rows.timestamp(AT)).setLastModifiedBy("sql")
        .setSyncStatus(io.deltasync.v1.SyncStatus.SYNC_STATUS_SYNCED).setIsDeleted(false)
        .setCreatedAt(Rows.timestamp(AT)).build();
    if (Json.depth(entity.getData()) > Json.MAX_DEPTH) {
      throw new IllegalStateException();
    }
    return Change.newBuilder().setOperation(Operation.OPERATION_CREATE).setEntity(entity).setCursor(CURSOR + g)
        .build();
  }

  static Change wire(int g, String data, DocumentWire w) {
    return Rows.change("catchup", "note", String.format("%09d", g), "create", 1, "\"e" + g + "-1\"", data, "synced",
        null, false, AT, "sql", AT, null, null, null, CURSOR + g, w);
  }

  public static void main(String[] a) throws Exception {
    var mx = ManagementFactory.getThreadMXBean();
    int page = 1000, pages = 100;
    String[] docs = new String[page];
    for (int i = 0; i < page; i++) {
      docs[i] = doc(i);
    }
    for (int round = 0; round < 12; round++) {
      for (boolean useWire : new boolean[] {false, true}) {
        long t0 = mx.getCurrentThreadCpuTime();
        long bytes = 0;
        for (int p = 0; p < pages; p++) {
          List<Change> changes = new ArrayList<>(page);
          DocumentWire w = new DocumentWire();
          for (int i = 0; i < page; i++) {
            Change c = useWire ? wire(p * page + i, docs[i], w) : tree(p * page + i, docs[i]);
            c.getSerializedSize();  // SyncStore.carried and page sizing
            changes.add(c);
          }
          SyncResponse m = SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder().addAllChanges(changes)
              .setCursor("x").setPhase(SyncPhase.SYNC_PHASE_CATCH_UP)).build();
          if (useWire) {
            byte[] b = m.toByteArray();  // wire.DocumentBytes
            bytes += b.length;
          } else {
            // what gRPC's ProtoInputStream.drainTo does: writeTo an OutputStream
            m.writeTo(SINK);
            bytes += m.getSerializedSize();
          }
        }
        long t1 = mx.getCurrentThreadCpuTime();
        if (round >= 6) {
          System.out.printf("round %d %s: %.2f µs CPU per change (%d bytes per change)%n", round,
              useWire ? "wire" : "tree", (t1 - t0) / 1000.0 / (page * pages), bytes / (page * pages));
        }
      }
    }
  }
}

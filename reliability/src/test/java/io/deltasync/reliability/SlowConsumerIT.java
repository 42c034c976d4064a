package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stuck consumer: one app stops reading its Sync stream ({@link ReadGate}) while reliability.stuckMiB of changes
 * (16 KiB documents) are pushed to the scope it follows. The server's heap after a full collection, measured in the
 * server process, grows by less than half of what the stuck stream was sent while it was stuck (the session's queue
 * is bounded, DELTASYNC_STREAM_QUEUE_MIB=1 here; past it the session catches up from the change log instead); the
 * other apps receive every change while it is stuck; once it reads again it catches up, with nothing skipped or
 * doubled (the checker), and its copy equals the database.
 */
@Tag("reliability")
class SlowConsumerIT {
  private static final int DOCUMENT_BYTES = 16 * 1024;
  private static final int DELTAS_PER_PUSH = 16;

  @TempDir
  Path dir;

  @Test
  void aStuckConsumerHoldsBoundedServerMemoryAndOthersKeepReceiving() throws Exception {
    long seed = Chaos.seed();
    int stuckMiB = Chaos.integer("stuckMiB", 32);
    int total = stuckMiB * 1024 * 1024 / DOCUMENT_BYTES;
    System.out.printf("reliability: SlowConsumerIT seed=%d stuckMiB=%d changes=%d%n", seed, stuckMiB, total);
    History history = new History();
    List<ClientNode> nodes = new ArrayList<>();
    ReadGate gate = new ReadGate();
    try (PostgresProcess postgres = PostgresProcess.start(dir.resolve("pg"));
        ServerProcess server = new ServerProcess("slow", postgres, Chaos.logs().resolve("slow-" + seed),
            Map.of("DELTASYNC_STREAM_QUEUE_MIB", "1"))) {
      server.start();
      ClientNode stuck = new ClientNode("stuck", List.of("big"), dir.resolve("stuck.db"), server.port(), history,
          seed).intercept(gate);
      nodes.add(stuck);
      for (int i = 0; i < 2; i++) {
        nodes.add(new ClientNode("reader-" + i, List.of("big"), dir.resolve("r" + i + ".db"), server.port(), history,
            seed + i + 1));
      }
      for (ClientNode node : nodes) {
        node.open();
      }
      for (ClientNode node : nodes) {
        CrashPointIT.await(node.id + " live", node::synced);
      }
      long baseline = server.heapAfterFullGc();
      gate.pause();

      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
          .maxInboundMessageSize(16 * 1024 * 1024).build();
      long peak = baseline;
      int pushed = 0;
      int nextSample = total / 4;
      try {
        String filler = "x".repeat(DOCUMENT_BYTES);
        while (pushed < total) {
          PushRequest.Builder push = PushRequest.newBuilder().setClientId("writer");
          for (int i = 0; i < DELTAS_PER_PUSH && pushed + i < total; i++) {
            push.addDeltas(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setScope("big")
                .setEntityType("note").setEntityId("doc-" + (pushed + i)).setOperation(Operation.OPERATION_CREATE)
                .setData(Struct.newBuilder().putFields("filler", Value.newBuilder().setStringValue(filler)
                    .build())));
          }
          var results = SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS)
              .push(push.build()).getResultsList();
          long applied = results.stream().filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED).count();
          if (applied < results.size()) {
            // "Not now" (busy) is retried as a client would; nothing else is expected here.
            assertThat(results).allSatisfy(r -> assertThat(r.getStatus()).isIn(DeltaStatus.DELTA_STATUS_APPLIED,
                DeltaStatus.DELTA_STATUS_REJECTED));
            Thread.sleep(200);
            continue;
          }
          pushed += results.size();
          if (pushed >= nextSample) {
            peak = Math.max(peak, server.heapAfterFullGc());
            nextSample += total / 4;
          }
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      int expected = total;
      for (ClientNode reader : nodes.subList(1, nodes.size())) {
        awaitSlowly(reader.id + " received every change while the stuck one is stuck", () -> holdsAll(reader,
            expected));
      }
      peak = Math.max(peak, server.heapAfterFullGc());
      int stuckHad = stuck.count();
      long growth = peak - baseline;
      System.out.printf("reliability: SlowConsumerIT seed=%d changes=%d sentMiB=%d heapBaselineMiB=%.1f"
          + " heapPeakAfterGcMiB=%.1f growthMiB=%.1f stuckHadWhileStuck=%d%n", seed, total, stuckMiB,
          baseline / 1048576.0, peak / 1048576.0, growth / 1048576.0, stuckHad);
      assertThat(stuckHad).as("the stuck app did not read the changes while stuck").isLessThan(expected);
      assertThat(growth).as("server heap growth while a stream was stuck with %d MiB sent to it", stuckMiB)
          .isLessThan(stuckMiB * 1024L * 1024 / 2);

      gate.resume();
      awaitSlowly("the stuck app caught up", () -> holdsAll(stuck, expected));
      Map<String, Set<String>> scopes = new HashMap<>();
      nodes.forEach(n -> scopes.put(n.id, Set.of("big")));
      Map<String, Map<String, Checker.State>> local = new HashMap<>();
      nodes.forEach(n -> local.put(n.id, n.localState()));
      try (Connection sql = postgres.connect()) {
        Checker checker = new Checker();
        checker.checkConvergence(local, scopes, sql);
        checker.checkHistory(history, sql);
        System.out.printf("reliability: SlowConsumerIT seed=%d counts=%s%n", seed, checker.counts());
        assertThat(checker.violations()).isEmpty();
      }
      assertThat(server.isAlive()).isTrue();
    } finally {
      for (ClientNode node : nodes) {
        node.close();
      }
    }
  }

  private static boolean holdsAll(ClientNode node, int expected) {
    return node.synced() && node.count() == expected;
  }

  /** As CrashPointIT.await, polling once a second: each look reads a store of many large documents. */
  private static void awaitSlowly(String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    java.time.Instant guard = java.time.Instant.now().plusSeconds(600);
    while (!condition.getAsBoolean()) {
      assertThat(java.time.Instant.now()).as("still waiting for: " + what).isBefore(guard);
      Thread.sleep(1_000);
    }
  }
}

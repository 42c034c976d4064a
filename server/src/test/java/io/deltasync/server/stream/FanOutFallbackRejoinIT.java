package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.FanOutConfig;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.StreamPages;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Fan-out threads with slow streams falling back, catching up (with read-ahead) and rejoining keep every order. */
class FanOutFallbackRejoinIT {
  private static final int BUDGET = 32 * 1024;
  private static final int QUEUE_CHANGES = 20;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withStreamPages(new StreamPages(BUDGET))
      .withFanOut(new FanOutConfig(3))
      .withStream(new ServerConfig.Stream(Duration.ofSeconds(60), QUEUE_CHANGES, Duration.ofMillis(100))));

  private static void write(String scope, String prefix, int count, int bytes, int perPush) {
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batch.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId(String.format("%s-%05d", prefix, i)).setScope(scope).setOperation(Operation.OPERATION_CREATE)
          .setData(Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(bytes))
              .build())).build());
      if (batch.size() == perPush || i == count - 1) {
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(batch).build());
        batch.clear();
      }
    }
  }

  private static String start() {
    return Cursor.start(server.sql().fetchSingle("select epoch from sync_epoch").get(0, Long.class)).encode();
  }

  private static List<String> logged(String scope) {
    return server.sql().fetch("select entity_id from change_log where scope = ? order by tx_id, change_id", scope)
        .getValues(0, String.class);
  }

  /**
   * Attack: fan-out threads (2 engaged at 140 subscribers) deliver live pages directly to free streams while ten
   * slow streams (tiny HTTP/2 window, not reading) fall back to catch-up on whichever thread brings the page, then
   * read, catch up and rejoin the feed while writes keep committing. Every stream must end up with exactly the
   * log's changes in commit order, none twice, none missing.
   */
  @Test
  void fanOutWithFallbacksAndRejoinsKeepsEveryStreamInOrder() throws Exception {
    String scope = "fan";
    Subscription sub = Subscription.newBuilder().addScopes(scope).build();
    io.grpc.ManagedChannel tiny = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forAddress("127.0.0.1", server.port()).usePlaintext().flowControlWindow(8 * 1024).build();
    List<io.grpc.ManagedChannel> channels = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      channels.add(io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build());
    }
    List<StreamClient> fast = new ArrayList<>();
    List<StreamClient> slow = new ArrayList<>();
    try {
      for (int i = 0; i < 130; i++) {
        StreamClient client = new StreamClient(channels.get(i % channels.size()));
        client.hello("fan-fast-" + i, start(), sub);
        fast.add(client);
      }
      for (int i = 0; i < 10; i++) {
        StreamClient client = new StreamClient(tiny, false);
        client.hello("fan-slow-" + i, start(), sub);
        slow.add(client);
      }
      for (StreamClient client : fast) {
        client.awaitLive();
      }
      Thread writer = Thread.ofPlatform().start(() -> {
        for (int round = 0; round < 60; round++) {
          write(scope, "w" + String.format("%02d", round), 10, 400, 10);
          try {
            Thread.sleep(5);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      // Slow streams start reading one by one while the writes go on: each catches up and rejoins mid-stream.
      Thread.sleep(1_500);
      for (StreamClient client : slow) {
        client.startReading();
        Thread.sleep(100);
      }
      writer.join();
      List<String> expected = logged(scope);
      assertThat(expected).hasSize(600);
      boolean fanOutThreads = Thread.getAllStackTraces().keySet().stream()
          .anyMatch(t -> t.getName().startsWith("deltasync-live-fan-out-"));
      long fallbacks = server.server().sessions().stats().stream().mapToLong(SyncSession.Stats::fallbacks).sum();
      System.out.printf("FanOutFallbackRejoinIT: fan-out threads seen %s, fallbacks %d%n", fanOutThreads, fallbacks);
      List<StreamClient> all = new ArrayList<>(fast);
      all.addAll(slow);
      for (StreamClient client : all) {
        assertThat(client.awaitChanges(expected.size())).extracting(c -> c.getEntity().getEntityId())
            .containsExactlyElementsOf(expected);
        client.assertOpen();
      }
      assertThat(fanOutThreads).isTrue();
      assertThat(fallbacks).as("slow streams fell back").isPositive();
    } finally {
      for (StreamClient client : fast) {
        client.close();
      }
      for (StreamClient client : slow) {
        client.close();
      }
      tiny.shutdownNow();
      channels.forEach(io.grpc.ManagedChannel::shutdownNow);
    }
  }
}

package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client that stops reading costs a bounded buffer, falls back to catching up, and never holds up others.
 * Verified by counting what the session buffers, not by timing.
 */
class SlowConsumerIT {
  private static final int QUEUE_LIMIT = 40;
  private static final int CHANGES = 1_500;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withStream(
      new ServerConfig.Stream(Duration.ofSeconds(15), QUEUE_LIMIT, Duration.ofMillis(100))));

  @Test
  void aClientThatStopsReadingIsBoundedAndOthersKeepReceiving() {
    Subscription all = Subscription.newBuilder().addScopes("slow").build();
    try (StreamClient slow = new StreamClient(server.channel(), false);
        StreamClient fast = new StreamClient(server.channel())) {
      slow.hello("slow-phone", "", all);
      fast.hello("fast-phone", "", all);
      fast.awaitLive();
      awaitSession("slow-phone", SyncSession.State.LIVE);

      // About 3 MB of changes: far more than HTTP/2 flow-control windows hold for a client that reads nothing.
      Struct bulky = Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(2_000))
          .build()).build();
      for (int batch = 0; batch < CHANGES / 100; batch++) {
        List<Delta> deltas = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          deltas.add(Deltas.create("bulk-" + batch + "-" + i, bulky).toBuilder().setScope("slow").build());
        }
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(deltas).build());
      }

      assertThat(fast.awaitChanges(CHANGES)).hasSize(CHANGES);
      SyncSession.Stats stalled = awaitSession("slow-phone", SyncSession.State.CATCHING_UP);
      assertThat(stalled.fallbacks()).isPositive();
      assertThat(stalled.maxQueuedChanges()).isLessThanOrEqualTo(QUEUE_LIMIT);

      slow.startReading();
      assertThat(slow.awaitChanges(CHANGES)).extracting(c -> c.getEntity().getEntityId())
          .doesNotHaveDuplicates()
          .containsExactlyElementsOf(fast.changes().stream().map(c -> c.getEntity().getEntityId()).toList());
      slow.awaitLive();
      SyncSession.Stats after = awaitSession("slow-phone", SyncSession.State.LIVE);
      assertThat(after.maxQueuedChanges()).isLessThanOrEqualTo(QUEUE_LIMIT);
    }
  }

  private SyncSession.Stats awaitSession(String clientId, SyncSession.State state) {
    for (int i = 0; i < 600; i++) {
      for (SyncSession.Stats stats : server.server().sessions().stats()) {
        if (stats.clientId().equals(clientId) && stats.state() == state) {
          return stats;
        }
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    throw new AssertionError("session of " + clientId + " never reached " + state + ": "
        + server.server().sessions().stats());
  }
}

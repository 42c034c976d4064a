package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.client.RetryPolicy;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reconnect schedule of an unreachable server, read from an injected scheduler: no sleeping. */
class ReconnectScheduleTest {
  private static final long SEED = 42L;
  private static final RetryPolicy POLICY = new RetryPolicy(4, Duration.ofSeconds(1), Duration.ofSeconds(4), 2.0);

  @TempDir
  Path dir;

  @Test
  void reconnectsWithFullJitterUnderGrowingCapsThenGivesUp() throws Exception {
    RecordingScheduler scheduler = new RecordingScheduler();
    ManagedChannel nowhere = InProcessChannelBuilder.forName("nobody-" + UUID.randomUUID()).build();
    SplittableRandom expected = new SplittableRandom(SEED);
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("a.db"));
        SyncClient client = SyncClient.builder().channel(nowhere).store(store).scheduler(scheduler)
            .random(new SplittableRandom(SEED)).retryPolicy(POLICY, true).giveUpAfterMaxRetries(true).build()) {
      client.start();
      for (int retry = 1; retry <= 4; retry++) {
        RecordingScheduler.Task task = scheduler.next(t -> true);
        assertThat(task.delay()).as("retry " + retry).isEqualTo(POLICY.delay(retry, expected))
            .isBetween(Duration.ZERO, POLICY.cap(retry));
        task.run().run();
      }
      await("gave up", () -> client.state().phase() == SyncState.Phase.STOPPED);
      assertThat(client.state().lastError()).startsWith("gave up after 4 reconnects");
      assertThat(scheduler.isEmpty()).isTrue();

      // The app learns the network is back: a fresh series of retries starts.
      client.reconnectNow();
      assertThat(scheduler.next(t -> true).delay()).isBetween(Duration.ZERO, POLICY.cap(1));
    } finally {
      nowhere.shutdownNow();
    }
  }

  @Test
  void keepsRetryingAtTheLargestCapByDefault() throws Exception {
    RecordingScheduler scheduler = new RecordingScheduler();
    ManagedChannel nowhere = InProcessChannelBuilder.forName("nobody-" + UUID.randomUUID()).build();
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("b.db"));
        SyncClient client = SyncClient.builder().channel(nowhere).store(store).scheduler(scheduler)
            .random(new SplittableRandom(SEED)).retryPolicy(POLICY, true).build()) {
      client.start();
      for (int retry = 1; retry <= 12; retry++) {
        RecordingScheduler.Task task = scheduler.next(t -> true);
        assertThat(task.delay()).as("retry " + retry).isBetween(Duration.ZERO, Duration.ofSeconds(4));
        task.run().run();
      }
      assertThat(client.state().phase()).isNotEqualTo(SyncState.Phase.STOPPED);
    } finally {
      nowhere.shutdownNow();
    }
  }
}

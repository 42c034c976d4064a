package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * One app installation in a test: its own SQLite file, its own channel to the server on loopback, a SyncClient, and
 * a listener that records what the app heard. {@link #kill()} drops everything without a goodbye, as a killed app.
 */
final class Device implements AutoCloseable {
  /** A failure guard for conditions that should come true; never a timing assertion. */
  private static final Duration GUARD = Duration.ofSeconds(90);

  final Path file;
  final ManagedChannel channel;
  final SqliteLocalStore store;
  final SyncClient client;
  final List<DeltaResult> conflicts = new CopyOnWriteArrayList<>();
  final List<DeltaResult> rejected = new CopyOnWriteArrayList<>();
  final List<String> resyncs = new CopyOnWriteArrayList<>();
  final List<SyncState> states = new CopyOnWriteArrayList<>();
  final List<LocalEntity> changed = new CopyOnWriteArrayList<>();

  Device(Path file, int port, Consumer<SyncClient.Builder> customize) {
    this.file = file;
    this.channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    this.store = SqliteLocalStore.open(file);
    SyncClient.Builder builder = SyncClient.builder().channel(channel).store(store).listener(new SyncListener() {
      @Override
      public void onEntityChanged(LocalEntity entity) {
        changed.add(entity);
      }

      @Override
      public void onConflict(Delta delta, DeltaResult result) {
        conflicts.add(result);
      }

      @Override
      public void onRejected(Delta delta, DeltaResult result) {
        rejected.add(result);
      }

      @Override
      public void onStateChanged(SyncState state) {
        states.add(state);
      }

      @Override
      public void onResync(String reason) {
        resyncs.add(reason);
      }
    });
    customize.accept(builder);
    this.client = builder.build();
  }

  static Struct doc(String key, String value) {
    return Struct.newBuilder().putFields(key, Value.newBuilder().setStringValue(value).build()).build();
  }

  /** Waits until the stream is live and every local write has its result. */
  void awaitSynced() {
    await("live with an empty outbox", () -> client.state().phase() == SyncState.Phase.LIVE
        && client.pendingCount() == 0);
  }

  static void await(String what, BooleanSupplier condition) {
    Instant give = Instant.now().plus(GUARD);
    while (!condition.getAsBoolean()) {
      assertThat(Instant.now()).as("still waiting for: " + what).isBefore(give);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  /** The app is killed: no half-close, no clean shutdown of the stream; the SQLite file stays. */
  void kill() throws InterruptedException {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    client.close();
    store.close();
  }

  @Override
  public void close() throws InterruptedException {
    client.close();
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    store.close();
  }
}

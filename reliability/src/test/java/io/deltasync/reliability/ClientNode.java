package io.deltasync.reliability;

import io.deltasync.client.RetryPolicy;
import io.deltasync.sdk.LocalEntity;
import io.deltasync.sdk.SyncClient;
import io.deltasync.sdk.SyncState;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One app installation: its own SQLite file and channel (recorded by the history), a {@link SyncClient}, and the
 * ability to go offline the hard way ({@link #kill()}: the app dies, the file stays) and come back.
 */
final class ClientNode implements AutoCloseable {
  // Short delays so a run of a minute sees many reconnects; the shape (full jitter, doubling) is the SDK's.
  private static final RetryPolicy FAST = new RetryPolicy(1_000, Duration.ofMillis(100), Duration.ofMillis(1_500), 2);

  final String id;
  final List<String> scopes;
  private final Path file;
  private final int port;
  private final History history;
  private final long seed;
  private ManagedChannel channel;
  private SqliteLocalStore store;
  private SyncClient client;
  private int opens;
  private io.grpc.ClientInterceptor extra;

  ClientNode(String id, List<String> scopes, Path file, int port, History history, long seed) {
    this.id = id;
    this.scopes = List.copyOf(scopes);
    this.file = file;
    this.port = port;
    this.history = history;
    this.seed = seed;
  }

  /** Adds an interceptor to the channels of the next opens (a {@link ReadGate}, say). */
  synchronized ClientNode intercept(io.grpc.ClientInterceptor interceptor) {
    extra = interceptor;
    return this;
  }

  /** Opens the store and starts syncing (again). */
  synchronized void open() {
    opens++;
    ManagedChannelBuilder<?> channelBuilder = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext();
    if (extra != null) {
      channelBuilder.intercept(extra);
    }
    channel = channelBuilder.intercept(history.recorder(id)).build();
    store = SqliteLocalStore.open(file);
    SyncClient.Builder builder = SyncClient.builder().channel(channel).store(store).clientId(id)
        .retryPolicy(FAST, false).random(new Random(seed * 31 + opens));
    builder.subscribe(null, scopes.toArray(String[]::new));
    client = builder.build();
    client.start();
  }

  synchronized boolean isOpen() {
    return client != null;
  }

  synchronized SyncClient client() {
    return client;
  }

  /** The app is killed: no goodbye on the stream; the SQLite file (and its outbox) stays. */
  synchronized void kill() throws InterruptedException {
    if (client == null) {
      return;
    }
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    client.close();
    store.close();
    client = null;
  }

  /** Live, with no local write waiting for its result. */
  synchronized boolean synced() {
    return client != null && client.state().phase() == SyncState.Phase.LIVE && client.pendingCount() == 0;
  }

  /** Where the client is, for a failure message. */
  synchronized String describe() {
    return id + " " + (client == null ? "closed" : client.state() + ", pending=" + client.pendingCount());
  }

  /** How many live entities the app's copy holds in its scopes (-1 when closed). */
  synchronized int count() {
    if (client == null) {
      return -1;
    }
    int n = 0;
    for (String scope : scopes) {
      n += (int) client.query(null, scope).stream().filter(e -> !e.deleted()).count();
    }
    return n;
  }

  /** The copy the app sees for its scopes, by "scope/type/id"; null if a write is still pending. */
  synchronized Map<String, Checker.State> localState() {
    if (client == null) {
      return null;
    }
    Map<String, Checker.State> state = new HashMap<>();
    for (String scope : scopes) {
      for (LocalEntity e : client.query(null, scope)) {
        if (e.pending()) {
          return null;
        }
        state.put(e.key().scope() + "/" + e.key().entityType() + "/" + e.key().entityId(),
            new Checker.State(e.serverVersion(), e.data()));
      }
    }
    return new java.util.TreeMap<>(state);
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}

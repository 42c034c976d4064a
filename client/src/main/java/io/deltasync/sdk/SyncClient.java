package io.deltasync.sdk;

import com.google.protobuf.Struct;
import io.deltasync.client.RetryPolicy;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.ResolutionChoice;
import io.deltasync.v1.ResolveConflictRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;

/**
 * The offline-first client: the app reads and writes its local copy at once, and the client keeps that copy in sync
 * with the server over one Sync stream, pushing the outbox whenever it is connected. Build one per local store with
 * {@link #builder()}, then {@link #start()} it.
 *
 * <pre>{@code
 * SyncClient client = SyncClient.builder()
 *     .channel(channel)                          // the app's channel: Netty on the JVM, OkHttp on Android
 *     .store(SqliteLocalStore.open(Path.of("app.db")))
 *     .subscribe("inspection", "site-1")
 *     .listener(myListener)
 *     .build();
 * client.start();
 * LocalEntity created = client.create("inspection", "site-1", data);
 * }</pre>
 */
public final class SyncClient implements AutoCloseable {
  private final Replica replica;
  private final SyncLoop loop;
  private final Listeners listeners;
  private final SyncServiceGrpc.SyncServiceBlockingStub unary;
  private final TokenProvider tokenProvider;
  private final Clock clock;
  private final ScheduledExecutorService ownExecutor;
  private final String clientId;

  private SyncClient(Builder b) {
    this.replica = new Replica(b.store);
    this.clientId = replica.clientId(b.clientId);
    this.listeners = new Listeners();
    b.listeners.forEach(listeners::add);
    this.clock = b.clock;
    this.tokenProvider = b.tokenProvider;
    ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
      Thread thread = new Thread(r, "deltasync-sync");
      thread.setDaemon(true);
      return thread;
    });
    // Closing drops pending timers (heartbeats, reconnects) instead of waiting for them.
    executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    executor.setRemoveOnCancelPolicy(true);
    this.ownExecutor = executor;
    Executor serialized = task -> {
      try {
        executor.execute(task);
      } catch (RejectedExecutionException closed) {
        // gRPC callbacks that arrive after close() have nothing left to do.
      }
    };
    Scheduler scheduler = b.scheduler != null ? b.scheduler : (delay, task) -> {
      try {
        ScheduledFuture<?> future = executor.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
        return () -> future.cancel(false);
      } catch (RejectedExecutionException closed) {
        return () -> { };
      }
    };
    this.unary = SyncServiceGrpc.newBlockingStub(b.channel);
    this.loop = new SyncLoop(serialized, scheduler, b.clock, replica, SyncServiceGrpc.newStub(b.channel),
        clientId, b.subscriptions, b.tokenProvider, listeners,
        new Backoff(b.retryPolicy, b.random, b.giveUp), new Backoff(b.retryPolicy, b.random, false),
        b.useServerRetryPolicy);
  }

  /** A builder; {@code channel} and {@code store} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Starts syncing: connects now, and reconnects with backoff whenever the stream ends. */
  public void start() {
    loop.connectNow();
  }

  /** Reconnects at once if offline (for example when the app learns the network is back), resetting the backoff. */
  public void reconnectNow() {
    loop.connectNow();
  }

  /** This installation's client id (kept in the store). */
  public String clientId() {
    return clientId;
  }

  /** Where the sync loop is. */
  public SyncState state() {
    return loop.state();
  }

  /** Adds a listener. */
  public void addListener(SyncListener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  /** Removes a listener. */
  public void removeListener(SyncListener listener) {
    listeners.remove(listener);
  }

  /** The entity as the app sees it (pending local writes applied), including a deleted one. */
  public Optional<LocalEntity> get(EntityKey key) {
    return replica.get(Objects.requireNonNull(key, "key"));
  }

  /** The live entities of a type in a scope, as the app sees them, by id; null means any type or any scope. */
  public List<LocalEntity> query(String entityType, String scope) {
    return replica.query(entityType, scope);
  }

  /** How many local writes wait for their result. */
  public int pendingCount() {
    return replica.pendingCount();
  }

  /** The pending deltas, oldest first. */
  public List<OutboxEntry> outbox() {
    return replica.outbox();
  }

  /** Creates an entity with a new random id; see {@link #create(String, String, String, Struct)}. */
  public LocalEntity create(String entityType, String scope, Struct data) {
    return create(entityType, scope, UUID.randomUUID().toString(), data);
  }

  /** Creates an entity locally at once and queues its delta (durably) for the server. */
  public LocalEntity create(String entityType, String scope, String entityId, Struct data) {
    return write(new EntityKey(scope, entityType, entityId), Operation.OPERATION_CREATE,
        Objects.requireNonNull(data, "data"), ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED);
  }

  /** Replaces the entity's document locally at once and queues the update; the server's default policy decides conflicts. */
  public LocalEntity update(EntityKey key, Struct data) {
    return update(key, data, ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED);
  }

  /** Replaces the entity's document, asking the server for {@code policy} if the update meets a conflict. */
  public LocalEntity update(EntityKey key, Struct data, ConflictPolicy policy) {
    return write(key, Operation.OPERATION_UPDATE, Objects.requireNonNull(data, "data"), policy);
  }

  /**
   * Edits the entity's document (text, array and object edits, built with {@link Edits}): applied to the local copy
   * at once and pushed as {@code edits} with the operational-transform policy, so concurrent edits by several people
   * converge and keep what each person did where they do not conflict. Pending edits are rebased on the server's
   * merge result (its {@code rebase_edits}) before they are sent.
   *
   * @throws IllegalArgumentException when an edit does not fit the document the app sees (nothing is written)
   */
  public LocalEntity edit(EntityKey key, List<EditOperation> edits) {
    LocalEntity written = replica.edit(Objects.requireNonNull(key, "key"), List.copyOf(edits), clock.instant());
    listeners.onEntityChanged(written);
    loop.localWrite();
    return written;
  }

  /** Deletes the entity locally at once and queues the delete. */
  public LocalEntity delete(EntityKey key) {
    return write(key, Operation.OPERATION_DELETE, null, ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED);
  }

  private LocalEntity write(EntityKey key, Operation operation, Struct data, ConflictPolicy policy) {
    LocalEntity written = replica.write(Objects.requireNonNull(key, "key"), operation, data,
        Objects.requireNonNull(policy, "policy"), clock.instant());
    listeners.onEntityChanged(written);
    loop.localWrite();
    return written;
  }

  /**
   * Asks the server for a checksum of a subscribed scope and compares it with the local copy. Ask when no push is in
   * flight (your own recent writes can explain a mismatch). On a mismatch the client downloads the state again,
   * keeping its outbox.
   */
  public CompletableFuture<ChecksumResult> verify(String scope) {
    return loop.verify(Objects.requireNonNull(scope, "scope"));
  }

  /**
   * Resolves a conflict queued for manual resolution (the conflict id comes with {@link SyncListener#onConflict}),
   * with unary {@code ResolveConflict}, and applies the resulting entity to the local copy. Blocking; throws the
   * call's {@code StatusRuntimeException} (for example ABORTED when the entity moved past {@code baseRowVersion}).
   *
   * @param data the resolved document when {@code choice} is USE_DATA, else null
   * @param baseRowVersion the entity's version the resolution is based on (0: no check)
   */
  public LocalEntity resolveConflict(String conflictId, ResolutionChoice choice, Struct data, long baseRowVersion)
      throws Exception {
    ResolveConflictRequest.Builder request = ResolveConflictRequest.newBuilder()
        .setConflictId(Objects.requireNonNull(conflictId, "conflictId"))
        .setChoice(Objects.requireNonNull(choice, "choice"))
        .setBaseRowVersion(baseRowVersion);
    if (data != null) {
      request.setData(data);
    }
    SyncServiceGrpc.SyncServiceBlockingStub stub = unary.withDeadlineAfter(30, TimeUnit.SECONDS);
    if (tokenProvider != null) {
      stub = stub.withCallCredentials(new BearerToken(tokenProvider.token()));
    }
    Entity entity = stub.resolveConflict(request.build()).getEntity();
    replica.applyChanges(List.of(Change.newBuilder().setEntity(entity).build()), "");
    LocalEntity visible = replica.get(EntityKey.of(entity)).orElseThrow();
    listeners.onEntityChanged(visible);
    return visible;
  }

  /** Stops syncing (the stream is cancelled; pending deltas stay in the store). The app closes the store. */
  @Override
  public void close() {
    loop.close();
    ownExecutor.shutdown();
    try {
      if (!ownExecutor.awaitTermination(10, TimeUnit.SECONDS)) {
        ownExecutor.shutdownNow();
      }
    } catch (InterruptedException e) {
      ownExecutor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  /** Builds a {@link SyncClient}; each setter validates its argument. */
  public static final class Builder {
    private Channel channel;
    private LocalStore store;
    private String clientId;
    private final List<Subscription> subscriptions = new ArrayList<>();
    private final List<SyncListener> listeners = new ArrayList<>();
    private TokenProvider tokenProvider;
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private boolean useServerRetryPolicy = true;
    private boolean giveUp;
    private Scheduler scheduler;
    private Clock clock = Clock.systemUTC();
    private RandomGenerator random = new java.security.SecureRandom();

    private Builder() {}

    /** The app's channel to the server (Netty on the JVM, OkHttp on Android); the app shuts it down. */
    public Builder channel(Channel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
      return this;
    }

    /** The local store (for example {@code SqliteLocalStore.open(path)}); the app closes it after the client. */
    public Builder store(LocalStore store) {
      this.store = Objects.requireNonNull(store, "store");
      return this;
    }

    /**
     * This installation's id (1 to 128 printable ASCII characters). Default: a random UUID created with the store
     * and kept in it; a store created with one id refuses another.
     */
    public Builder clientId(String clientId) {
      Objects.requireNonNull(clientId, "clientId");
      if (clientId.isEmpty() || clientId.length() > 128 || !clientId.chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) {
        throw new IllegalArgumentException("clientId: \"" + clientId + "\" (expected: 1 to 128 printable ASCII characters)");
      }
      this.clientId = clientId;
      return this;
    }

    /** Subscribes to an entity type (null or empty: all types) in the given scopes (none: all it may see). */
    public Builder subscribe(String entityType, String... scopes) {
      if (subscriptions.size() >= 100) {
        throw new IllegalArgumentException("subscriptions: 101 (expected: <= 100)");
      }
      subscriptions.add(Subscription.newBuilder().setEntityType(entityType == null ? "" : entityType)
          .addAllScopes(List.of(scopes)).build());
      return this;
    }

    /** Adds a listener. */
    public Builder listener(SyncListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /** Sends {@code authorization: Bearer} from this provider, and refreshes it on the open stream when asked. */
    public Builder tokenProvider(TokenProvider tokenProvider) {
      this.tokenProvider = Objects.requireNonNull(tokenProvider, "tokenProvider");
      return this;
    }

    /**
     * The backoff of reconnects and push retries until the server's welcome advertises its own (default 1 s doubling
     * to 32 s, 5 retries). {@code useServerPolicy = false} keeps this one for good.
     */
    public Builder retryPolicy(RetryPolicy retryPolicy, boolean useServerPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      this.useServerRetryPolicy = useServerPolicy;
      return this;
    }

    /**
     * Whether to stop (state STOPPED) after the policy's maxRetries consecutive failed reconnects. Default false:
     * an offline-first app keeps retrying, at the largest delay, until the network returns.
     */
    public Builder giveUpAfterMaxRetries(boolean giveUp) {
      this.giveUp = giveUp;
      return this;
    }

    /** The scheduler of delayed work (tests: one that records delays and runs tasks on demand). */
    public Builder scheduler(Scheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /** The clock (client_modified_at, heartbeat silence, retry times). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The random source of the backoff's jitter. */
    public Builder random(RandomGenerator random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** Builds the client; nothing connects until {@link SyncClient#start()}. */
    public SyncClient build() {
      if (channel == null) {
        throw new IllegalStateException("channel: not set");
      }
      if (store == null) {
        throw new IllegalStateException("store: not set");
      }
      return new SyncClient(this);
    }
  }
}

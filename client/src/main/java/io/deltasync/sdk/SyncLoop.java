package io.deltasync.sdk;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.deltasync.client.RetryPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Limits;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncAck;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncChecksum;
import io.deltasync.v1.SyncChecksumRequest;
import io.deltasync.v1.SyncError;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncPushResults;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.deltasync.v1.SyncTokenRefresh;
import io.deltasync.v1.SyncWelcome;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The client's side of the Sync stream protocol (docs/protocol.md). Everything runs on one serialized executor
 * (the "sync thread"): gRPC callbacks are handed to it, so the stream's state needs no locks and the outbound
 * observer (thread-compatible, not thread-safe) has one writer. Inbound flow control is manual: the next message
 * is requested only after the previous one was applied durably, so a slow phone makes the server fall back to
 * catch-up instead of buffering for it.
 */
final class SyncLoop {
  private static final Logger LOG = Logger.getLogger(SyncLoop.class.getName());
  private static final int DEFAULT_MAX_DELTAS = 500;
  private static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(15);

  private final Executor loop;
  private final Scheduler scheduler;
  private final Clock clock;
  private final Replica replica;
  private final SyncServiceGrpc.SyncServiceStub stub;
  private final String clientId;
  private final List<Subscription> subscriptions;
  private final TokenProvider tokenProvider;
  private final Listeners listeners;
  private final Backoff reconnects;
  private final Backoff pushRetries;
  private final boolean serverPolicy;

  // Everything below is touched on the sync thread only.
  private Stream current;
  private boolean welcomed;
  private boolean closed;
  private SyncState.Phase phase = SyncState.Phase.OFFLINE;
  private long initialEntities;
  private String lastError;
  private volatile SyncState state = new SyncState(SyncState.Phase.OFFLINE, 0, 0, null);
  private Limits limits = Limits.getDefaultInstance();
  private int pushLimit = Integer.MAX_VALUE;
  private InFlight inFlight;
  private final Map<String, Instant> notBefore = new HashMap<>();
  private Duration heartbeatInterval = DEFAULT_HEARTBEAT;
  private Instant lastHeard = Instant.EPOCH;
  private Scheduler.Cancellable reconnectTask;
  private Scheduler.Cancellable heartbeatTask;
  private Scheduler.Cancellable pushWakeup;
  private final Map<String, List<CompletableFuture<ChecksumResult>>> checksums = new HashMap<>();

  SyncLoop(Executor loop, Scheduler scheduler, Clock clock, Replica replica, SyncServiceGrpc.SyncServiceStub stub,
      String clientId, List<Subscription> subscriptions, TokenProvider tokenProvider, Listeners listeners,
      Backoff reconnects, Backoff pushRetries, boolean serverPolicy) {
    this.loop = loop;
    this.scheduler = scheduler;
    this.clock = clock;
    this.replica = replica;
    this.stub = stub;
    this.clientId = clientId;
    this.subscriptions = List.copyOf(subscriptions);
    this.tokenProvider = tokenProvider;
    this.listeners = listeners;
    this.reconnects = reconnects;
    this.pushRetries = pushRetries;
    this.serverPolicy = serverPolicy;
  }

  /** The pushed batch waiting for its results. */
  private record InFlight(String batchId, List<OutboxEntry> entries) {}

  /** One Sync stream. */
  private final class Stream implements ClientResponseObserver<SyncRequest, SyncResponse> {
    private ClientCallStreamObserver<SyncRequest> requests;

    @Override
    public void beforeStart(ClientCallStreamObserver<SyncRequest> requestStream) {
      this.requests = requestStream;
      requestStream.disableAutoRequestWithInitial(1);
    }

    @Override
    public void onNext(SyncResponse response) {
      loop.execute(() -> {
        if (this != current) {
          return;
        }
        try {
          onMessage(this, response);
        } catch (RuntimeException e) {
          // The local store failed (disk full, a bug): nothing was acknowledged, so reconnecting from the stored
          // cursor receives the same changes again.
          LOG.log(Level.WARNING, "applying a server message failed; reconnecting", e);
          end(this, Status.UNAVAILABLE.withDescription("local apply failed: " + e).withCause(e), true);
          return;
        }
        if (this == current) {
          requests.request(1);
        }
      });
    }

    @Override
    public void onError(Throwable t) {
      loop.execute(() -> end(this, Status.fromThrowable(t), false));
    }

    @Override
    public void onCompleted() {
      loop.execute(() -> end(this, Status.UNAVAILABLE.withDescription("the server completed the stream"), false));
    }

    void send(SyncRequest request) {
      requests.onNext(request);
    }
  }

  SyncState state() {
    return state;
  }

  /** Connects now (start, or the app knows the network is back): cancels a pending reconnect. */
  void connectNow() {
    loop.execute(() -> {
      if (reconnectTask != null) {
        reconnectTask.cancel();
        reconnectTask = null;
      }
      reconnects.reset();
      connect();
    });
  }

  /** A local write happened: push it if the stream is up, and tell the app the pending count. */
  void localWrite() {
    loop.execute(() -> {
      publishState();
      pushIfIdle();
    });
  }

  void close() {
    loop.execute(() -> {
      closed = true;
      cancel(reconnectTask);
      cancel(heartbeatTask);
      cancel(pushWakeup);
      if (current != null) {
        Stream stream = current;
        current = null;
        stream.requests.cancel("client closed", null);
      }
      failChecksums("client closed");
      phase = SyncState.Phase.STOPPED;
      publishState();
    });
  }

  CompletableFuture<ChecksumResult> verify(String scope) {
    CompletableFuture<ChecksumResult> result = new CompletableFuture<>();
    loop.execute(() -> {
      if (current == null || !welcomed) {
        result.completeExceptionally(new IllegalStateException("verify " + scope + ": not connected"));
        return;
      }
      checksums.computeIfAbsent(scope, s -> new ArrayList<>()).add(result);
      current.send(SyncRequest.newBuilder()
          .setChecksumRequest(SyncChecksumRequest.newBuilder().setScope(scope)).build());
    });
    return result;
  }

  private void connect() {
    if (closed || current != null) {
      return;
    }
    reconnectTask = null;
    String cursor = replica.cursor();
    if (cursor.isEmpty()) {
      // An initial state interrupted before its last batch left entities without a position: start again.
      replica.resetServerState();
    }
    initialEntities = 0;
    SyncServiceGrpc.SyncServiceStub call = stub;
    if (tokenProvider != null) {
      try {
        call = stub.withCallCredentials(new BearerToken(tokenProvider.token()));
      } catch (Exception e) {
        lastError = "token provider failed: " + e;
        scheduleReconnect();
        return;
      }
    }
    setPhase(SyncState.Phase.CONNECTING);
    Stream stream = new Stream();
    current = stream;
    welcomed = false;
    call.sync(stream);
    stream.send(SyncRequest.newBuilder().setHello(SyncHello.newBuilder()
        .setClientId(clientId).setCursor(cursor).addAllSubscriptions(subscriptions)).build());
  }

  private void onMessage(Stream stream, SyncResponse response) {
    lastHeard = clock.instant();
    switch (response.getMessageCase()) {
      case WELCOME -> onWelcome(response.getWelcome());
      case RESYNC_REQUIRED -> {
        replica.resetServerState();
        initialEntities = 0;
        setPhase(SyncState.Phase.INITIAL_SYNC);
        listeners.onResync(response.getResyncRequired().getReason());
      }
      case CHANGES -> onChanges(stream, response.getChanges());
      case PUSH_RESULTS -> onPushResults(response.getPushResults());
      case ERROR -> onError(response.getError());
      case CHECKSUM -> onChecksum(response.getChecksum());
      case TOKEN_EXPIRING -> refreshToken(stream);
      case TOKEN_ACCEPTED -> LOG.fine("the server accepted the refreshed token");
      default -> { } // heartbeats only prove liveness
    }
  }

  private void onWelcome(SyncWelcome welcome) {
    welcomed = true;
    limits = welcome.getLimits();
    if (welcome.hasHeartbeatInterval()) {
      Duration interval = Duration.ofSeconds(welcome.getHeartbeatInterval().getSeconds(),
          welcome.getHeartbeatInterval().getNanos());
      heartbeatInterval = interval.isZero() || interval.isNegative() ? DEFAULT_HEARTBEAT : interval;
    }
    if (serverPolicy && welcome.hasRetryPolicy()) {
      try {
        RetryPolicy advertised = RetryPolicy.from(welcome.getRetryPolicy());
        reconnects.policy(advertised);
        pushRetries.policy(advertised);
      } catch (IllegalArgumentException e) {
        LOG.warning("ignoring the server's retry policy: " + e.getMessage());
      }
    }
    setPhase(replica.cursor().isEmpty() ? SyncState.Phase.INITIAL_SYNC : SyncState.Phase.CATCHING_UP);
    scheduleHeartbeat();
    pushIfIdle();
  }

  private void onChanges(Stream stream, SyncChanges changes) {
    List<LocalEntity> changed = replica.applyChanges(changes.getChangesList(), changes.getCursor());
    for (LocalEntity entity : changed) {
      listeners.onEntityChanged(entity);
    }
    if (!changes.getCursor().isEmpty()) {
      // Acknowledged only now: the changes and the cursor are committed locally.
      stream.send(SyncRequest.newBuilder().setAck(SyncAck.newBuilder().setCursor(changes.getCursor())).build());
    }
    switch (changes.getPhase()) {
      case SYNC_PHASE_INITIAL_STATE -> {
        initialEntities += changes.getChangesCount();
        setPhase(SyncState.Phase.INITIAL_SYNC);
        publishState();
      }
      case SYNC_PHASE_CATCH_UP -> setPhase(SyncState.Phase.CATCHING_UP);
      case SYNC_PHASE_LIVE -> {
        reconnects.reset();
        setPhase(SyncState.Phase.LIVE);
      }
      default -> { }
    }
  }

  private void pushIfIdle() {
    if (current == null || !welcomed || inFlight != null || closed) {
      return;
    }
    Instant now = clock.instant();
    Predicate<OutboxEntry> ready = entry -> {
      Instant after = notBefore.get(entry.deltaId());
      return after == null || !now.isBefore(after);
    };
    int max = Math.min(pushLimit, limits.getMaxDeltasPerPush() > 0 ? limits.getMaxDeltasPerPush() : DEFAULT_MAX_DELTAS);
    List<OutboxEntry> batch = replica.nextBatch(max, ready);
    if (batch.isEmpty()) {
      // Nothing due now, but deltas answered "not now" may still be backing off: wake when the earliest is due.
      // Each retried delta drew its own jittered delay and only the last one's wake-up was kept, so without this
      // a delta due later than that wake-up would wait for an unrelated local write or a reconnect, for ever.
      wakeWhenDue(now);
      return;
    }
    String batchId = UUID.randomUUID().toString();
    inFlight = new InFlight(batchId, batch);
    SyncPush.Builder push = SyncPush.newBuilder().setBatchId(batchId);
    batch.forEach(entry -> push.addDeltas(entry.delta()));
    current.send(SyncRequest.newBuilder().setPush(push).build());
  }

  /** Schedules a push attempt at the earliest retry time still in the future, if any. */
  private void wakeWhenDue(Instant now) {
    Instant earliest = null;
    for (Instant after : notBefore.values()) {
      if (after.isAfter(now) && (earliest == null || after.isBefore(earliest))) {
        earliest = after;
      }
    }
    if (earliest != null) {
      cancel(pushWakeup);
      pushWakeup = scheduler.schedule(Duration.between(now, earliest), () -> loop.execute(this::pushIfIdle));
    }
  }

  private void onPushResults(SyncPushResults results) {
    if (inFlight == null || !inFlight.batchId().equals(results.getBatchId())) {
      LOG.warning("push results of an unknown batch " + results.getBatchId() + "; ignored");
      return;
    }
    List<OutboxEntry> sent = inFlight.entries();
    inFlight = null;
    List<Replica.Outcome> outcomes = replica.applyResults(sent, results.getResultsList());
    report(outcomes);
    pushIfIdle();
    publishState();
  }

  private void report(List<Replica.Outcome> outcomes) {
    boolean retry = false;
    for (Replica.Outcome outcome : outcomes) {
      if (outcome.kind() != Replica.Outcome.Kind.RETRY) {
        notBefore.remove(outcome.entry().deltaId());
      }
      switch (outcome.kind()) {
        case RETRY -> {
          retry = true;
          Duration delay = pushRetries.nextDelay().orElse(pushRetries.policy().maxDelay());
          notBefore.put(outcome.entry().deltaId(), clock.instant().plus(delay));
          cancel(pushWakeup);
          pushWakeup = scheduler.schedule(delay, () -> loop.execute(this::pushIfIdle));
        }
        case CONFLICT -> listeners.onConflict(outcome.entry().delta(), outcome.result());
        case REJECTED -> listeners.onRejected(outcome.entry().delta(), outcome.result());
        case APPLIED -> {
          if (outcome.result().hasResolution()) {
            listeners.onConflict(outcome.entry().delta(), outcome.result());
          }
        }
      }
      if (outcome.entity() != null) {
        listeners.onEntityChanged(outcome.entity());
      }
    }
    if (!retry) {
      pushRetries.reset();
    }
  }

  private void onError(SyncError error) {
    com.google.rpc.Status status = error.getStatus();
    String reason = reason(status);
    if (inFlight != null && inFlight.batchId().equals(error.getBatchId())) {
      List<OutboxEntry> sent = inFlight.entries();
      inFlight = null;
      if ("LIMIT_EXCEEDED".equals(reason) && sent.size() == 1) {
        // One delta alone is too big for the server: it can never go through. Reject it, never block the others.
        DeltaResult rejected = DeltaResult.newBuilder().setDeltaId(sent.get(0).deltaId())
            .setStatus(DeltaStatus.DELTA_STATUS_REJECTED).setError(status).build();
        report(replica.applyResults(sent, List.of(rejected)));
        pushIfIdle();
      } else {
        if ("LIMIT_EXCEEDED".equals(reason)) {
          pushLimit = Math.max(1, sent.size() / 2);
        }
        Duration delay = pushRetries.nextDelay().orElse(pushRetries.policy().maxDelay());
        cancel(pushWakeup);
        pushWakeup = scheduler.schedule(delay, () -> loop.execute(this::pushIfIdle));
      }
    } else if (hasField(status, "checksum_request")) {
      failChecksums(status.getMessage());
    } else if (!welcomed && current != null) {
      // The hello was refused. Too many streams or a busy server: try again later; a malformed hello (bad client
      // id, subscription or cursor) would be refused the same way every time: stop and say why.
      Status.Code code = Status.fromCodeValue(status.getCode()).getCode();
      boolean later = code == Status.Code.RESOURCE_EXHAUSTED || code == Status.Code.UNAVAILABLE;
      listeners.onStreamError(status);
      end(current, Status.fromCodeValue(status.getCode()).withDescription("hello refused: " + status.getMessage()),
          true, later);
      return;
    }
    listeners.onStreamError(status);
  }

  private void onChecksum(SyncChecksum checksum) {
    Replica.Checksum local = replica.checksum(checksum.getScope(), typesOf(checksum.getScope()));
    boolean matches = local.entityCount() == checksum.getEntityCount() && local.digest().equals(checksum.getDigest());
    ChecksumResult result = new ChecksumResult(checksum.getScope(), matches, checksum.getEntityCount(),
        local.entityCount());
    List<CompletableFuture<ChecksumResult>> waiting = checksums.remove(checksum.getScope());
    if (!matches) {
      // The copy is incomplete: download the state again (keeping the outbox), as docs/protocol.md asks.
      LOG.warning("checksum of " + checksum.getScope() + " differs from the server's; resyncing");
      replica.resetServerState();
      Stream stream = current;
      end(stream, Status.UNAVAILABLE.withDescription("checksum mismatch: resync"), true);
      cancel(reconnectTask);
      reconnects.reset();
      connect();
    }
    if (waiting != null) {
      waiting.forEach(future -> future.complete(result));
    }
  }

  /** The entity types this stream delivers for a scope (docs/protocol.md, "Checksums"). */
  private Predicate<String> typesOf(String scope) {
    if (subscriptions.isEmpty()) {
      return type -> true;
    }
    Set<String> types = new HashSet<>();
    for (Subscription subscription : subscriptions) {
      if (subscription.getScopesCount() == 0 || subscription.getScopesList().contains(scope)) {
        if (subscription.getEntityType().isEmpty()) {
          return type -> true;
        }
        types.add(subscription.getEntityType());
      }
    }
    return types::contains;
  }

  private void refreshToken(Stream stream) {
    if (tokenProvider == null) {
      LOG.warning("the server says the stream's token expires, and no TokenProvider is set");
      return;
    }
    try {
      stream.send(SyncRequest.newBuilder()
          .setTokenRefresh(SyncTokenRefresh.newBuilder().setToken(tokenProvider.token())).build());
    } catch (Exception e) {
      // The server ends the stream with UNAUTHENTICATED at expiry; the reconnect asks the provider again.
      LOG.log(Level.WARNING, "token provider failed; the stream ends when its token expires", e);
    }
  }

  private void scheduleHeartbeat() {
    cancel(heartbeatTask);
    Stream stream = current;
    heartbeatTask = scheduler.schedule(heartbeatInterval, () -> loop.execute(() -> heartbeat(stream)));
  }

  private void heartbeat(Stream stream) {
    if (stream != current || closed) {
      return;
    }
    if (Duration.between(lastHeard, clock.instant()).compareTo(heartbeatInterval.multipliedBy(2)) > 0) {
      end(stream, Status.UNAVAILABLE.withDescription("nothing heard from the server for two heartbeat intervals"),
          true);
      return;
    }
    stream.send(SyncRequest.newBuilder().setHeartbeat(SyncHeartbeat.getDefaultInstance()).build());
    scheduleHeartbeat();
  }

  /** The stream ended (or we end it): reconnect with backoff unless retrying cannot help. */
  private void end(Stream stream, Status status, boolean cancel) {
    end(stream, status, cancel, isRetryable(status));
  }

  private void end(Stream stream, Status status, boolean cancel, boolean retry) {
    if (stream == null || stream != current) {
      return;
    }
    current = null;
    welcomed = false;
    inFlight = null;
    cancel(heartbeatTask);
    if (cancel) {
      stream.requests.cancel(status.getDescription(), status.getCause());
    }
    failChecksums("stream ended: " + status);
    if (closed) {
      return;
    }
    lastError = status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
    if (retry) {
      scheduleReconnect();
    } else {
      LOG.warning("sync stopped: " + lastError);
      setPhase(SyncState.Phase.STOPPED);
    }
  }

  private boolean isRetryable(Status status) {
    return switch (status.getCode()) {
      case UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNKNOWN, CANCELLED -> true;
      // A fresh token may fix it: the provider is asked again on every connect.
      case UNAUTHENTICATED -> tokenProvider != null;
      default -> false;
    };
  }

  private void scheduleReconnect() {
    Optional<Duration> delay = reconnects.nextDelay();
    if (delay.isEmpty()) {
      lastError = "gave up after " + reconnects.policy().maxRetries() + " reconnects; last: " + lastError;
      setPhase(SyncState.Phase.STOPPED);
      return;
    }
    setPhase(SyncState.Phase.OFFLINE);
    reconnectTask = scheduler.schedule(delay.get(), () -> loop.execute(this::connect));
  }

  private void failChecksums(String why) {
    checksums.values().forEach(list -> list.forEach(f -> f.completeExceptionally(new IllegalStateException(why))));
    checksums.clear();
  }

  private void setPhase(SyncState.Phase newPhase) {
    phase = newPhase;
    publishState();
  }

  private void publishState() {
    SyncState next = new SyncState(phase, replica.pendingCount(),
        phase == SyncState.Phase.INITIAL_SYNC ? initialEntities : 0, lastError);
    if (!next.equals(state)) {
      state = next;
      listeners.onStateChanged(next);
    }
  }

  private static void cancel(Scheduler.Cancellable task) {
    if (task != null) {
      task.cancel();
    }
  }

  private static String reason(com.google.rpc.Status status) {
    for (com.google.protobuf.Any detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        try {
          return detail.unpack(ErrorInfo.class).getReason();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          return "";
        }
      }
    }
    return "";
  }

  private static boolean hasField(com.google.rpc.Status status, String prefix) {
    for (com.google.protobuf.Any detail : status.getDetailsList()) {
      if (detail.is(BadRequest.class)) {
        try {
          for (BadRequest.FieldViolation violation : detail.unpack(BadRequest.class).getFieldViolationsList()) {
            if (violation.getField().startsWith(prefix)) {
              return true;
            }
          }
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          return false;
        }
      }
    }
    return false;
  }
}

package io.deltasync.server.stream;

import com.google.protobuf.Timestamp;
import com.google.rpc.BadRequest.FieldViolation;
import com.google.rpc.Code;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.changefeed.Subscriptions;
import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.stream.OutboundQueue.Outgoing;
import io.deltasync.server.write.ParseFailure;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.Change;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.SyncError;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncPushResults;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncResyncRequired;
import io.deltasync.v1.SyncWelcome;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's Sync stream: the protocol (hello, push, ack, heartbeats, checksum requests, the end of the stream)
 * and the state it moves through. Its parts are classes of their own, all under this session's lock:
 * <ul>
 *   <li>client messages run one at a time on the inbound thread, and the next one is requested from gRPC only when
 *       the current one is answered (inbound flow control);
 *   <li>{@link ChangeDelivery} sends the initial state, catch-up and live changes on the stream's delivery thread,
 *       at the client's pace, and falls back to catch-up when the client reads too slowly;
 *   <li>{@link OutboundQueue} is the only writer to the response observer, bounded in changes and bytes;
 *   <li>{@link io.deltasync.server.changefeed.Subscriptions} validates what the hello asks for, and the change feed
 *       computes checksums.
 * </ul>
 */
public final class SyncSession implements StreamObserver<SyncRequest> {
  private static final Logger log = LoggerFactory.getLogger(SyncSession.class);
  private static final int OWN_WRITE_WAIT_ROUNDS = 20;
  private static final int MAX_QUEUED_CONTROL_MESSAGES = 2;
  // A live stream whose filter matched nothing gets its frontier every this many heartbeats.
  private static final int QUIET_TICKS_BEFORE_FRONTIER = 2;
  private static final int MAX_ANSWERED_DELTAS = 4_096;

  /** Where a session is in the protocol. */
  public enum State { AWAITING_HELLO, INITIAL_STATE, CATCHING_UP, LIVE, CLOSED }

  private final ServerCallStreamObserver<SyncResponse> out;
  private final SessionSettings settings;
  private final WriteService writes;
  private final ChangeFeed changeFeed;
  private final LiveFeed liveFeed;
  private final SyncStore store;
  private final Runnable onClose;
  private final ClientStreams clientStreams;
  private final StreamCredential credential;
  private final ExecutorService inbound = Executors.newSingleThreadExecutor(
      Thread.ofVirtual().name("deltasync-sync-in-", 0).factory());
  // The call's context, cancelled when the session closes: the inbound work runs in it, so a push the stream no
  // longer waits for (the client went away while it waited for admission or a pool connection) is not applied
  // (WriteService checks Context#isCancelled before it writes). gRPC does not carry its context to our executor.
  private final io.grpc.Context.CancellableContext callContext = io.grpc.Context.current().withCancellation();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progress = lock.newCondition();
  // Everything below is guarded by lock.
  private final OutboundQueue queue;
  private final ChangeDelivery changes;
  State state = State.AWAITING_HELLO;  // read by ChangeDelivery under the lock
  String clientId = "";
  // The grants digest to record at the first ack after a resync that grants decided (see hello).
  private volatile String grantsAfterResync;
  // delta_id -> row_version of the push results this stream sent and whose changes it has not met yet. Bounded:
  // forgetting an entry only means the client gets that change too, which it skips by row_version.
  private final Map<String, Long> answeredDeltas = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
      return size() > MAX_ANSWERED_DELTAS;
    }
  };
  private Subscriptions subscriptions = new Subscriptions(ChangeFilter.all(), Set.of());
  private boolean holdsClientSlot;
  private volatile long lastHeardNanos = System.nanoTime();
  private volatile boolean awaitingClient;
  private long lastSeenRecordedNanos;

  private final io.deltasync.server.admission.HelloAdmission hellos;

  SyncSession(ServerCallStreamObserver<SyncResponse> out, SessionSettings settings, WriteService writes,
      ChangeFeed changeFeed, LiveFeed liveFeed, ClientStreams clientStreams, StreamCredential credential,
      io.deltasync.server.admission.HelloAdmission hellos, Runnable onClose) {
    this.hellos = hellos;
    this.out = out;
    this.credential = credential;
    this.clientStreams = clientStreams;
    this.settings = settings;
    this.writes = writes;
    this.changeFeed = changeFeed;
    this.liveFeed = liveFeed;
    this.store = changeFeed.store();
    this.onClose = onClose;
    this.queue = new OutboundQueue(out, progress::signalAll, settings.telemetry());
    this.changes = new ChangeDelivery(this, settings, changeFeed, liveFeed, queue, lock, progress);
    out.disableAutoRequest();
    out.setOnReadyHandler(this::onReady);
    out.setOnCancelHandler(() -> close(null));
    lock.lock();
    try {
      requestOne();
    } finally {
      lock.unlock();
    }
  }

  // ---- inbound ------------------------------------------------------------------------------------------

  @Override
  public void onNext(SyncRequest request) {
    lastHeardNanos = System.nanoTime();
    awaitingClient = false;
    runInbound(() -> {
      try {
        handle(request);
      } catch (DeltaSyncException e) {
        sendError(e.status(), request.hasPush() ? request.getPush().getBatchId() : "");
      } catch (RuntimeException e) {
        if (SyncStore.isUnavailable(e)) {
          sendError(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_DATABASE_UNAVAILABLE,
              "the database is unavailable; retry with backoff"), "");
        } else if (SyncStore.isOverloaded(e)) {
          sendError(Errors.busy(), request.hasPush() ? request.getPush().getBatchId() : "");
        } else {
          log.error("Sync session of client '{}' failed on a {} message", clientId, request.getMessageCase(), e);
          sendError(Errors.status(Code.INTERNAL, ErrorReason.ERROR_REASON_INTERNAL, "internal error"), "");
        }
      }
      requestNextWhenAnswersCanGoOut();
    });
  }

  /**
   * The next client message is read only once the answers to the previous ones are on their way: a client that
   * pushes without reading would otherwise make the server queue push results without bound.
   */
  private void requestNextWhenAnswersCanGoOut() {
    lock.lock();
    try {
      while (state != State.CLOSED && (queue.controlMessages() > MAX_QUEUED_CONTROL_MESSAGES || !queue.isReady())) {
        progress.await(200, TimeUnit.MILLISECONDS);
      }
      if (state != State.CLOSED) {
        requestOne();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock. Silence is counted only while the server is waiting for the client. */
  private void requestOne() {
    lastHeardNanos = System.nanoTime();
    awaitingClient = true;
    out.request(1);
  }

  @Override
  public void onError(Throwable t) {
    close(null);
  }

  @Override
  public void onCompleted() {
    // After the messages already received have been handled: their results go out first.
    runInbound(() -> close(Status.OK));
  }

  private void runInbound(Runnable work) {
    try {
      inbound.execute(io.deltasync.server.telemetry.LogContextInterceptor.carrying(callContext.wrap(work)));
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      // the session is closed; gRPC may still deliver a message that was in flight
    }
  }

  private void handle(SyncRequest request) {
    switch (request.getMessageCase()) {
      case HELLO -> hello(request.getHello());
      case PUSH -> push(request.getPush());
      case ACK -> ack(request.getAck().getCursor());
      case HEARTBEAT -> heard();
      case CHECKSUM_REQUEST -> checksum(request.getChecksumRequest().getScope());
      case TOKEN_REFRESH -> refresh(request.getTokenRefresh().getToken());
      case MESSAGE_NOT_SET -> throw emptyOrUnparseable(request);
    }
  }

  /** A message with nothing set: a stand-in for one the server could not parse (rpc.RequestParsing), or empty. */
  private static DeltaSyncException emptyOrUnparseable(SyncRequest request) {
    return ParseFailure.of(request)
        .map(problem -> new DeltaSyncException(Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MALFORMED_MESSAGE,
            problem))
        .orElseGet(() -> new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT,
            List.of(Errors.violation("message",
                "required: exactly one of hello, push, ack, heartbeat, checksum_request")))));
  }

  private void hello(SyncHello hello) {
    if (currentState() != State.AWAITING_HELLO) {
      throw protocolViolation("hello: already received; a stream carries one hello (open a new stream to change "
          + "subscriptions)");
    }
    List<FieldViolation> violations = new ArrayList<>();
    Subscriptions subscriptions = Subscriptions.of(hello.getSubscriptionsList(), "hello.subscriptions", violations);
    violations.addAll(0, WriteService.checkClientId("hello.client_id", hello.getClientId()));
    if (!violations.isEmpty()) {
      throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, violations));
    }
    // Scopes named but not readable are refused; what remains is narrowed to the credential's readable scopes.
    String helloClientId = credential.checkHello(hello);
    // A burst of hellos takes turns (admission.HelloAdmission): the turn lasts until the stream's first page.
    io.deltasync.server.admission.HelloAdmission.Ticket turn;
    try {
      turn = hellos.admit();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DeltaSyncException(hellos.busy());
    }
    if (turn == null) {
      throw new DeltaSyncException(hellos.busy());
    }
    try {
      helloAdmitted(hello, helloClientId, subscriptions, turn);
    } finally {
      changes.holdTurnUntilFirstPage(turn);
    }
  }

  private void helloAdmitted(SyncHello hello, String helloClientId, Subscriptions subscriptions,
      io.deltasync.server.admission.HelloAdmission.Ticket turn) {
    String resyncReason = null;
    Cursor cursor = null;
    if (!hello.getCursor().isEmpty()) {
      try {
        cursor = changes.whenNotBusy(() -> changeFeed.resolve(hello.getCursor(), "hello.cursor"));
      } catch (DeltaSyncException e) {
        if (!Errors.reason(ErrorReason.ERROR_REASON_RESYNC_REQUIRED).equals(reasonOf(e))) {
          throw e;
        }
        resyncReason = e.status().getMessage();
      }
    }
    Optional<String> grants = credential.grantsDigest();
    if (grants.isPresent()) {
      Optional<String> before = changes.whenNotBusy(() -> store.grants().digest(helloClientId));
      if (cursor != null && !before.equals(grants)) {
        // The cursor moved on under other grants (or under grants nobody recorded: a status row cleaned up), past
        // changes of scopes it may read now but could not then.
        cursor = null;
        resyncReason = "the scopes this client may read changed since its cursor was handed out; discard local "
            + "state: the current state of every scope it may read now follows";
      }
      if (resyncReason == null) {
        changes.whenNotBusy(() -> {
          store.grants().record(helloClientId, grants.get());
          return null;
        });
      } else {
        // Recorded only once the client acknowledges the state it is about to receive: a client that never hears
        // the resync (the connection drops first) keeps its old cursor and must be told again.
        grantsAfterResync = grants.get();
      }
    }
    store.recordSeen(helloClientId);
    // A hello waits for a free connection rather than being refused: a client would only send it again.
    String serverCursor = changes.whenNotBusy(() -> changeFeed.encodeAt(changeFeed.visible()));
    if (!clientStreams.tryOpen(helloClientId)) {
      throw new DeltaSyncException(Errors.status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
          "hello.client_id: " + settings.maxStreamsPerClient() + " Sync streams are already open for client '"
              + hello.getClientId() + "' (DELTASYNC_MAX_STREAMS_PER_CLIENT); close one, then send hello again"));
    }
    lock.lock();
    try {
      if (state == State.CLOSED) {
        clientStreams.release(helloClientId);
        return;
      }
      holdsClientSlot = true;
      clientId = helloClientId;
      this.subscriptions = subscriptions;
      enqueue(new Outgoing(SyncResponse.newBuilder().setWelcome(SyncWelcome.newBuilder()
          .setServerCursor(serverCursor)
          .setLimits(settings.limits())
          .setHeartbeatInterval(com.google.protobuf.Duration.newBuilder()
              .setSeconds(settings.heartbeatInterval().toSeconds())
              .setNanos(settings.heartbeatInterval().toNanosPart()))
          .setRetryPolicy(settings.retryPolicy())).build(), 0, null));
      if (resyncReason != null) {
        // Then the initial state follows on this same stream, as for an empty cursor.
        enqueue(new Outgoing(SyncResponse.newBuilder().setResyncRequired(SyncResyncRequired.newBuilder()
            .setReason(resyncReason)).build(), 0, null));
      }
      state = cursor == null ? State.INITIAL_STATE : State.CATCHING_UP;
      // Logged before delivery starts, so that it precedes anything logged about the stream's first pages.
      log.debug("Client '{}' said hello ({}{})", clientId, cursor == null ? "initial state" : "resume",
          resyncReason != null ? " after resync" : "");
      changes.startFrom(credential.narrow(subscriptions.filter()), cursor == null ? null : cursor.position(),
          cursor == null ? null : hello.getCursor());
    } finally {
      lock.unlock();
    }
  }

  /**
   * Switches the stream to a fresh token: from the acknowledgement on, only the new credential's scopes are
   * delivered, and changes already queued for scopes it lost are dropped, not sent.
   */
  private void refresh(String token) {
    var refreshed = credential.verifyRefresh(token);
    Optional<String> grants = StreamCredential.digestOf(refreshed);
    // Only a narrowing is recorded: the stream goes on past the lost scopes' changes, so a later resume that
    // regains them must resync. A widening is not: the stream does not deliver the gained scopes (docs/security.md),
    // so the next resume under the wider grants must still find the old digest and resync.
    if (!clientId.isEmpty() && grants.isPresent() && !grants.equals(credential.grantsDigest())
        && credential.narrowedBy(refreshed)) {
      // Recorded before the stream runs under them: a later resume under wider grants is then told to resync.
      changes.whenNotBusy(() -> {
        store.grants().record(clientId, grants.get());
        return null;
      });
    }
    lock.lock();
    try {
      SyncResponse accepted = credential.use(refreshed);
      queue.rewriteChanges(credential::readableOnly);
      enqueue(new Outgoing(accepted, 0, null));
    } finally {
      lock.unlock();
    }
  }

  private void push(SyncPush push) {
    requireHello("push");
    if (push.getDeltasCount() > settings.limits().getMaxDeltasPerPush()) {
      throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
          List.of(Errors.violation("push.deltas", "count: " + push.getDeltasCount() + " (expected: <= "
              + settings.limits().getMaxDeltasPerPush() + "; split the batch)"))));
    }
    var results = settings.telemetry().push("stream", clientId, push.getDeltasCount(),
        () -> ScopedPush.push(writes, credential.mayPush(), clientId, push.getDeltasList(), "push.deltas"));
    io.deltasync.server.faults.CrashPoint.afterCommit(push.getDeltasList());
    lock.lock();
    try {
      // Remembered in the same step that queues the results, so that a change is suppressed only once this stream
      // has the result that carries the same entity version.
      for (DeltaResult result : results) {
        if (result.hasEntity()) {
          answeredDeltas.put(result.getDeltaId(), result.getEntity().getRowVersion());
        }
      }
      enqueue(new Outgoing(SyncResponse.newBuilder().setPushResults(SyncPushResults.newBuilder()
          .setBatchId(push.getBatchId()).addAllResults(results)).build(), 0, null));
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock: whether the change is one this very stream already answered with a push result carrying the
   * same entity version, so the client has it. Suppression is by stream, never by client id: two installations
   * sharing a client id (an app restored onto a second phone, two windows of a desktop app) must see each other's
   * writes, and a client that pushed on an earlier stream gets its changes back on the next (applying them is a
   * no-op by row_version).
   */
  boolean answeredOnThisStream(Change change) {
    if (!clientId.equals(change.getClientId())) {
      return false;
    }
    Long version = answeredDeltas.get(change.getDeltaId());
    if (version == null || version != change.getEntity().getRowVersion()) {
      return false;
    }
    answeredDeltas.remove(change.getDeltaId());
    return true;
  }

  private void ack(String wireCursor) {
    requireHello("ack");
    String settled = grantsAfterResync;
    if (settled != null) {
      // The first acknowledgement after a resync: the client has applied the state of its current grants.
      grantsAfterResync = null;
      changes.whenNotBusy(() -> {
        store.grants().record(clientId, settled);
        return null;
      });
    }
    Cursor cursor = changeFeed.acknowledged(wireCursor, "ack.cursor");
    store.recordAck(clientId, wireCursor, cursor.position());
  }

  private void heard() {
    if (currentState() == State.AWAITING_HELLO) {
      return;
    }
    long now = System.nanoTime();
    // One write per heartbeat interval at most: last_seen_at is for humans, not for correctness.
    if (now - lastSeenRecordedNanos > settings.heartbeatInterval().toNanos()) {
      lastSeenRecordedNanos = now;
      store.recordSeen(clientId);
    }
  }

  /**
   * Sends a checksum of a scope's live entities at exactly the position the client has reached. Sending of
   * changes pauses while it is computed, and the checksum goes out before anything queued after that position.
   */
  private void checksum(String scope) {
    requireHello("checksum_request");
    credential.checkReadable("checksum_request.scope", scope);
    if (!EntityKey.isScope(scope) || !subscriptions.covers(scope)) {
      throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_INVALID_ARGUMENT, List.of(
          Errors.violation("checksum_request.scope", "'" + scope + "' is not one of the subscribed scopes"))));
    }
    // Best effort: let this client's own recent writes pass the point the checksum describes, or its copy
    // (which already has them) would look different from the server's state at that point.
    for (int round = 0; round < OWN_WRITE_WAIT_ROUNDS; round++) {
      Position reached = reachedPosition();
      if (reached != null && !changeFeed.hasChangesBy(clientId, scope, reached)) {
        break;
      }
      sleep(Duration.ofMillis(100));
    }
    Position at;
    ChangeFilter delivered;
    lock.lock();
    try {
      delivered = changes.filter();
      at = reachedPositionLocked();
      if (at == null) {
        throw protocolViolation("checksum_request: the initial state is still being sent; ask once it is done");
      }
      queue.pause(true);
    } finally {
      lock.unlock();
    }
    SyncResponse checksum = null;
    try {
      checksum = SyncResponse.newBuilder().setChecksum(changeFeed.checksum(scope, delivered, at)).build();
    } finally {
      lock.lock();
      try {
        if (checksum != null && state != State.CLOSED) {
          queue.addFirst(checksum);
        }
        queue.pause(false);
      } finally {
        lock.unlock();
      }
    }
  }

  /** Delivery for this stream broke (or its heartbeat did): it must not stay open but deaf. */
  void onDropped(Throwable cause) {
    log.error("Client '{}': change delivery failed; ending the stream", clientId, cause);
    liveFeed.leave(changes);
    close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
        "the server could not deliver changes to this stream; reconnect and resume from your last cursor"))
        .getStatus());
  }

  // ---- outbound -----------------------------------------------------------------------------------------

  private void enqueueControl(SyncResponse message) {
    lock.lock();
    try {
      enqueue(new Outgoing(message, 0, null));
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock. */
  void enqueue(Outgoing outgoing) {
    if (state != State.CLOSED) {
      queue.add(credential.readableOnly(outgoing));
    }
  }

  private void onReady() {
    lock.lock();
    try {
      queue.drain();
    } finally {
      lock.unlock();
    }
  }

  private void sendError(com.google.rpc.Status status, String batchId) {
    enqueueControl(SyncResponse.newBuilder().setError(SyncError.newBuilder().setStatus(status)
        .setBatchId(batchId)).build());
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------

  /**
   * Called by the registry every second: warns before the stream's credential expires (SyncTokenExpiring) and ends
   * the stream once it has expired without a refresh — within a second of the expiry, not at the next heartbeat.
   */
  void checkCredential() {
    StreamCredential.Expiry expiry;
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return;
      }
      expiry = credential.checkExpiry();
      if (expiry instanceof StreamCredential.Warn warn) {
        enqueue(new Outgoing(warn.message(), 0, null));
      }
    } finally {
      lock.unlock();
    }
    if (expiry instanceof StreamCredential.Expired expired) {
      log.info("Client '{}': the stream's token expired; ending it", clientId);
      close(expired.status(), expired.trailers());
    }
  }

  /** Called by the registry every heartbeat interval. */
  void tick() {
    boolean silent;
    boolean stalled;
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return;
      }
      silent = awaitingClient
          && System.nanoTime() - lastHeardNanos > settings.heartbeatInterval().multipliedBy(3).toNanos();
      stalled = queue.blockedLongerThan(settings.stallTimeout().toNanos());
      // A quiet live stream learns how far the log moved on, so that a reconnect resumes from there instead of
      // rescanning everything since it went live; otherwise an idle stream gets a heartbeat.
      if (!silent && queue.isEmpty() && !changes.sendFrontierIfQuiet(QUIET_TICKS_BEFORE_FRONTIER)) {
        Timestamp now = Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000).build();
        enqueue(new Outgoing(SyncResponse.newBuilder().setHeartbeat(SyncHeartbeat.newBuilder().setSentAt(now))
            .build(), 0, null));
      }
    } finally {
      lock.unlock();
    }
    if (stalled) {
      log.info("Client '{}' read nothing for {} s; closing its stream", clientId, settings.stallTimeout().toSeconds());
      close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
          "the client read nothing the server sent for " + settings.stallTimeout().toSeconds()
              + " s; reconnect and resume from your last cursor")).getStatus());
      return;
    }
    if (silent) {
      log.info("Client '{}' sent nothing for three heartbeat intervals; closing its stream", clientId);
      close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
          "no message from the client for three heartbeat intervals ("
              + settings.heartbeatInterval().multipliedBy(3).toSeconds() + " s); reconnect")).getStatus());
    }
  }

  /**
   * Ends the stream because the database went back in time (restored, failed over): the client reconnects, and its
   * cursor, from the old history, is answered with resync.
   */
  void endForHistoryReset() {
    close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
        "the database was restored or failed over; reconnect (your cursor will be answered with resync)"))
        .getStatus());
  }

  /** Ends the stream because the server is shutting down; the client reconnects elsewhere and resumes. */
  void endForShutdown() {
    close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
        "the server is shutting down; reconnect (to another node) and resume from your last cursor")).getStatus());
  }

  /**
   * Ends the session: with {@code status} OK the stream completes, with another it fails, with null (the client
   * went away) nothing more is sent. Leaves the live feed only after releasing the session lock: the feed takes
   * its own lock before a session's, so taking them the other way round could deadlock.
   */
  void close(Status status) {
    close(status, null);
  }

  private void close(Status status, io.grpc.Metadata trailers) {
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED;
      // Control messages (push results, errors) still go out; changes not yet sent are left for the resume.
      queue.close(status, trailers);
    } finally {
      lock.unlock();
    }
    callContext.cancel(null);
    liveFeed.leave(changes);
    if (holdsClientSlot) {
      clientStreams.release(clientId);
    }
    inbound.shutdown();
    changes.shutdown();
    onClose.run();
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  State currentState() {
    lock.lock();
    try {
      return state;
    } finally {
      lock.unlock();
    }
  }

  private Position reachedPosition() {
    lock.lock();
    try {
      return reachedPositionLocked();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Under the lock: the position whose state the client holds once it has read everything sent. With no changes
   * queued that is the frontier itself: whatever lies between the last batch sent and the frontier was filtered
   * out (the client's own changes, or unsubscribed ones). Null until the initial state has been queued whole.
   */
  private Position reachedPositionLocked() {
    if (state == State.AWAITING_HELLO || state == State.INITIAL_STATE) {
      return null;
    }
    return queue.changes() == 0 && !queue.hasChangeBatches() ? changes.frontier() : queue.sent();
  }

  private void requireHello(String what) {
    if (currentState() == State.AWAITING_HELLO) {
      throw protocolViolation(what + ": send a hello first");
    }
  }

  private static DeltaSyncException protocolViolation(String message) {
    return new DeltaSyncException(Code.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_PROTOCOL_VIOLATION, message);
  }

  private static String reasonOf(DeltaSyncException e) {
    for (var detail : e.status().getDetailsList()) {
      if (detail.is(com.google.rpc.ErrorInfo.class)) {
        try {
          return detail.unpack(com.google.rpc.ErrorInfo.class).getReason();
        } catch (com.google.protobuf.InvalidProtocolBufferException ignored) {
          return "";
        }
      }
    }
    return "";
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * What a test or an operator may want to know about a session.
   *
   * @param clientId the client (empty before hello)
   * @param state where it is in the protocol
   * @param queuedChanges changes buffered now
   * @param maxQueuedChanges the most changes ever buffered at once (bounded by the configured limit, live and for a
   *     page of initial state or catch-up)
   * @param maxQueuedMessages the most messages of any kind ever buffered at once
   * @param fallbacks how often it left live delivery to catch up because the client read too slowly
   * @param maxQueuedBytes the most bytes of changes ever buffered at once (bounded by the configured limit)
   */
  public record Stats(String clientId, State state, int queuedChanges, int maxQueuedChanges, int maxQueuedMessages,
      long fallbacks, long maxQueuedBytes) {}

  /** A snapshot of the session's counters. */
  public Stats stats() {
    lock.lock();
    try {
      return new Stats(clientId, state, queue.changes(), queue.mostChanges(), queue.mostMessages(), changes.fallbacks(),
          queue.mostBytes());
    } finally {
      lock.unlock();
    }
  }
}

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
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.server.stream.OutboundQueue.Outgoing;
import io.deltasync.server.write.ParseFailure;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.Change;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncError;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.SyncPhase;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's Sync stream: the only writer to its response observer, owner of its state. Three kinds of work
 * meet here and are kept apart:
 * <ul>
 *   <li>client messages (hello, push, ack, heartbeat, checksum request) run one at a time on the inbound thread,
 *       and the next one is requested from gRPC only when the current one is done (inbound flow control);
 *   <li>initial state and catch-up read the database on the delivery thread, one page at a time, each page only
 *       once the previous one has been handed to gRPC and the transport is ready: the client's pace;
 *   <li>live pages arrive from the process's single {@link LiveFeed} and are queued without blocking it.
 * </ul>
 * Every send goes through the {@link OutboundQueue} under the session lock, which respects {@code isReady()}. The queue of
 * changes is bounded: when a live page would overflow it (a client that stopped reading), the session drops the
 * queued changes, leaves the live feed and goes back to catching up from the last change it actually sent, so a
 * slow client costs a bounded amount of memory and never holds up the feed or other clients.
 */
public final class SyncSession implements StreamObserver<SyncRequest>, LiveFeed.Subscriber {
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
  private final ExecutorService inbound = Executors.newSingleThreadExecutor(
      Thread.ofVirtual().name("deltasync-sync-in-", 0).factory());
  private final ExecutorService delivery = Executors.newSingleThreadExecutor(
      Thread.ofVirtual().name("deltasync-sync-out-", 0).factory());

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition progress = lock.newCondition();
  // Everything below is guarded by lock.
  private final OutboundQueue queue;
  private State state = State.AWAITING_HELLO;
  private String clientId = "";
  // delta_id -> row_version of the push results this stream sent and whose changes it has not met yet. Bounded:
  // forgetting an entry only means the client gets that change too, which it skips by row_version.
  private final Map<String, Long> answeredDeltas = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
      return size() > MAX_ANSWERED_DELTAS;
    }
  };
  private ChangeFilter filter = ChangeFilter.all();
  private Subscriptions subscriptions = new Subscriptions(ChangeFilter.all(), Set.of());
  private Position frontier;
  private boolean holdsClientSlot;
  private long fallbacks;
  private int quietTicks;
  private volatile long lastHeardNanos = System.nanoTime();
  private volatile boolean awaitingClient;
  private long lastSeenRecordedNanos;

  SyncSession(ServerCallStreamObserver<SyncResponse> out, SessionSettings settings, WriteService writes,
      ChangeFeed changeFeed, LiveFeed liveFeed, ClientStreams clientStreams, Runnable onClose) {
    this.out = out;
    this.clientStreams = clientStreams;
    this.settings = settings;
    this.writes = writes;
    this.changeFeed = changeFeed;
    this.liveFeed = liveFeed;
    this.store = changeFeed.store();
    this.onClose = onClose;
    this.queue = new OutboundQueue(out, progress::signalAll);
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
      inbound.execute(work);
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
    String resyncReason = null;
    Cursor cursor = null;
    if (!hello.getCursor().isEmpty()) {
      try {
        cursor = whenNotBusy(() -> changeFeed.resolve(hello.getCursor(), "hello.cursor"));
      } catch (DeltaSyncException e) {
        if (!Errors.reason(ErrorReason.ERROR_REASON_RESYNC_REQUIRED).equals(reasonOf(e))) {
          throw e;
        }
        resyncReason = e.status().getMessage();
      }
    }
    store.recordSeen(hello.getClientId());
    // A hello waits for a free connection rather than being refused: a client would only send it again.
    String serverCursor = whenNotBusy(() -> changeFeed.encodeAt(changeFeed.visible()));
    if (!clientStreams.tryOpen(hello.getClientId())) {
      throw new DeltaSyncException(Errors.status(Code.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
          "hello.client_id: " + settings.maxStreamsPerClient() + " Sync streams are already open for client '"
              + hello.getClientId() + "' (DELTASYNC_MAX_STREAMS_PER_CLIENT); close one, then send hello again"));
    }
    lock.lock();
    try {
      if (state == State.CLOSED) {
        clientStreams.release(hello.getClientId());
        return;
      }
      holdsClientSlot = true;
      clientId = hello.getClientId();
      filter = subscriptions.filter();
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
      if (cursor == null) {
        state = State.INITIAL_STATE;
      } else {
        state = State.CATCHING_UP;
        frontier = cursor.position();
        queue.sentUpTo(frontier);
      }
    } finally {
      lock.unlock();
    }
    log.debug("Client '{}' said hello ({}{})", clientId, cursor == null ? "initial state" : "resume",
        resyncReason != null ? " after resync" : "");
    delivery.execute(cursor == null ? this::deliverInitialStateThenCatchUp : this::catchUp);
  }

  private void push(SyncPush push) {
    requireHello("push");
    if (push.getDeltasCount() > settings.limits().getMaxDeltasPerPush()) {
      throw new DeltaSyncException(Errors.invalidArgument(ErrorReason.ERROR_REASON_LIMIT_EXCEEDED,
          List.of(Errors.violation("push.deltas", "count: " + push.getDeltasCount() + " (expected: <= "
              + settings.limits().getMaxDeltasPerPush() + "; split the batch)"))));
    }
    var results = writes.push(clientId, push.getDeltasList());
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
  private boolean answeredOnThisStream(Change change) {
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
    Cursor cursor = changeFeed.resolve(wireCursor, "ack.cursor");
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
      delivered = filter;
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

  // ---- delivery -----------------------------------------------------------------------------------------

  /**
   * Current state without a long transaction: the watermark first, then the live entities page by page, then
   * catch-up from the watermark. A change committed while the pages are read is either already in a page or at
   * or above the watermark, so it is caught up afterwards; one seen twice is harmless (same row_version).
   */
  private void deliverInitialStateThenCatchUp() {
    try {
      Position end = whenNotBusy(changeFeed::visible);
      String endCursor = changeFeed.encodeAt(end);
      List<ChangeFilter[]> passes = initialStatePasses(filter);
      for (int pass = 0; pass < passes.size(); pass++) {
        ChangeFilter include = passes.get(pass)[0];
        ChangeFilter except = passes.get(pass)[1];
        EntityKey after = null;
        boolean passDone = false;
        while (!passDone) {
          if (!awaitRoom()) {
            return;
          }
          EntityKey from = after;
          List<Change> creates = whenNotBusy(() -> changeFeed.initialState(include, except, from, readSize()));
          passDone = creates.size() < readSize();
          boolean last = passDone && pass == passes.size() - 1;
          if (!enqueueInitialState(creates, last, end, endCursor)) {
            return;
          }
          if (!creates.isEmpty()) {
            Entity lastEntity = creates.getLast().getEntity();
            after = new EntityKey(lastEntity.getScope(), lastEntity.getEntityType(), lastEntity.getEntityId());
          }
        }
      }
      catchUp();
    } catch (RuntimeException e) {
      failDelivery(e);
    }
  }

  /**
   * The initial state is sent subscription by subscription, in the order of the hello: a client that lists the
   * entity types it needs first (say, the ones its first screen shows) gets them first. Each pass leaves out what
   * an earlier pass already sent.
   */
  private static List<ChangeFilter[]> initialStatePasses(ChangeFilter filter) {
    List<ChangeFilter[]> passes = new ArrayList<>();
    if (filter.selectors().isEmpty()) {
      passes.add(new ChangeFilter[] {filter, new ChangeFilter(List.of())});
      return passes;
    }
    for (int i = 0; i < filter.selectors().size(); i++) {
      passes.add(new ChangeFilter[] {new ChangeFilter(List.of(filter.selectors().get(i))),
          new ChangeFilter(filter.selectors().subList(0, i))});
    }
    return passes;
  }

  /** Queues a page of the initial state; the last one carries the cursor. False if the session moved on. */
  private boolean enqueueInitialState(List<Change> changes, boolean last, Position end, String endCursor) {
    lock.lock();
    try {
      if (state != State.INITIAL_STATE) {
        return false;
      }
      if (changes.isEmpty() && !last) {
        return true;
      }
      List<List<Change>> chunks = bySize(changes, Change::getSerializedSize);
      for (int i = 0; i < chunks.size(); i++) {
        boolean endsState = last && i == chunks.size() - 1;
        SyncChanges.Builder batch = SyncChanges.newBuilder().addAllChanges(chunks.get(i))
            .setPhase(SyncPhase.SYNC_PHASE_INITIAL_STATE);
        if (endsState) {
          batch.setCursor(endCursor);
        }
        enqueue(new Outgoing(SyncResponse.newBuilder().setChanges(batch).build(), chunks.get(i).size(),
            endsState ? end : null));
      }
      if (last) {
        frontier = end;
        state = State.CATCHING_UP;
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Reads the change log from the session's frontier at the client's pace, then joins the live feed. */
  private void catchUp() {
    try {
      while (true) {
        if (!awaitRoom()) {
          return;
        }
        Position from;
        lock.lock();
        try {
          if (state != State.CATCHING_UP) {
            return;
          }
          from = frontier;
        } finally {
          lock.unlock();
        }
        ChangePage page = whenNotBusy(() -> changeFeed.readPage(from, readSize(), filter));
        List<ChangePage.Positioned> changes = new ArrayList<>(page.changes().size());
        Position reached = page.frontier();
        boolean more = page.hasMore();
        lock.lock();
        try {
          if (state != State.CATCHING_UP) {
            return;
          }
          long bytes = 0;
          for (ChangePage.Positioned positioned : page.changes()) {
            bytes += positioned.change().getSerializedSize();
            if (bytes > settings.maxQueuedBytes() && !changes.isEmpty()) {
              // The byte bound holds in catch-up too: the rest of the page is read again next round.
              reached = changes.getLast().position();
              more = true;
              break;
            }
            if (!answeredOnThisStream(positioned.change())) {
              changes.add(new ChangePage.Positioned(positioned.position(), changeFeed.withCursor(positioned)));
            }
          }
          if (!changes.isEmpty()) {
            enqueueChanges(changes, reached, SyncPhase.SYNC_PHASE_CATCH_UP);
          }
          frontier = reached;
        } finally {
          lock.unlock();
        }
        if (!more && liveFeed.join(this, reached, this::goLive)) {
          return;
        }
      }
    } catch (RuntimeException e) {
      failDelivery(e);
    }
  }

  /**
   * Runs under the live feed's dispatch lock, before the first live page reaches this session; false if the
   * session closed meanwhile (the feed must then not keep it).
   */
  private boolean goLive() {
    lock.lock();
    try {
      if (state != State.CATCHING_UP) {
        return false;
      }
      state = State.LIVE;
      // An empty batch marks the switch, and gives the client a cursor to acknowledge.
      enqueue(changesMessage(List.of(), frontier, SyncPhase.SYNC_PHASE_LIVE));
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Called on the live feed's thread: only hands the page to this session's own delivery thread, where it is
   * filtered, serialized and sent, so the feed never waits for one stream's work. Pages reach the delivery thread in
   * feed order, and catch-up runs on that same thread, so order and the join seam hold.
   */
  @Override
  public void onPage(LiveFeed.Page page) {
    try {
      delivery.execute(() -> {
        try {
          deliverLivePage(page);
        } catch (Throwable e) {
          onDropped(e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      // the session closed and is leaving the feed: nothing to deliver
    }
  }

  /** Live delivery for this stream broke: it must not stay open but deaf. */
  @Override
  public void onDropped(Throwable cause) {
    log.error("Client '{}': live delivery failed; ending the stream", clientId, cause);
    liveFeed.leave(this);
    close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
        "the server could not deliver changes to this stream; reconnect and resume from your last cursor"))
        .getStatus());
  }

  private void deliverLivePage(LiveFeed.Page page) {
    lock.lock();
    try {
      if (state != State.LIVE) {
        return;
      }
      if (page.from().compareTo(frontier) > 0) {
        // Cannot happen while join() keeps its promise; if it ever does, reading the log closes the gap.
        log.warn("Client '{}' saw a gap in live pages; catching up from the change log", clientId);
        fallBackToCatchUp();
        return;
      }
      if (page.to().compareTo(frontier) <= 0) {
        return;
      }
      List<ChangePage.Positioned> changes = new ArrayList<>();
      for (ChangePage.Positioned entry : page.entries()) {
        Entity entity = entry.change().getEntity();
        if (filter.matches(entity.getScope(), entity.getEntityType()) && entry.position().compareTo(frontier) > 0
            && !answeredOnThisStream(entry.change())) {
          changes.add(entry);
        }
      }
      if (!changes.isEmpty()) {
        long bytes = 0;
        for (ChangePage.Positioned change : changes) {
          bytes += change.change().getSerializedSize();
        }
        if (queue.changes() + changes.size() > settings.maxQueuedChanges()
            || queue.bytes() + bytes > settings.maxQueuedBytes()) {
          fallBackToCatchUp();
          return;
        }
        enqueueChanges(changes, page.to(), SyncPhase.SYNC_PHASE_LIVE);
      }
      frontier = page.to();
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: forget queued changes, resume from what the client was actually sent. */
  private void fallBackToCatchUp() {
    liveFeed.leave(this);
    queue.dropChanges();
    frontier = queue.sent();
    state = State.CATCHING_UP;
    fallbacks++;
    log.debug("Client '{}' reads too slowly for live delivery; catching up from the change log", clientId);
    delivery.execute(this::catchUp);
  }

  /**
   * Under the lock: queues changes as one or more messages, each below the message size clients accept (a page of
   * 50 documents of 256 KiB would not fit 4 MiB). Every message but the last ends at its own last change.
   */
  private void enqueueChanges(List<ChangePage.Positioned> changes, Position reached, SyncPhase phase) {
    quietTicks = 0;
    List<List<ChangePage.Positioned>> chunks = bySize(changes, c -> c.change().getSerializedSize());
    for (int i = 0; i < chunks.size(); i++) {
      List<ChangePage.Positioned> chunk = chunks.get(i);
      Position end = i == chunks.size() - 1 ? reached : chunk.getLast().position();
      enqueue(changesMessage(chunk.stream().map(ChangePage.Positioned::change).toList(), end, phase));
    }
  }

  private <T> List<List<T>> bySize(List<T> items, java.util.function.ToIntFunction<T> sizeOf) {
    return MessageBudget.split(items, sizeOf, MessageBudget.of(settings.limits().getMaxMessageBytes()));
  }

  private Outgoing changesMessage(List<Change> changes, Position reached, SyncPhase phase) {
    return new Outgoing(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder().addAllChanges(changes)
        .setCursor(changeFeed.encodeAt(reached)).setPhase(phase)).build(), changes.size(),
        reached);
  }

  /** Pages read for this client never exceed its buffer limit, so the limit holds in every phase. */
  private int readSize() {
    return Math.min(settings.pageSize(), settings.maxQueuedChanges());
  }

  /** Waits until the previous page has been handed to gRPC and the transport can take more; false if closed. */
  private boolean awaitRoom() {
    lock.lock();
    try {
      while (state != State.CLOSED && (queue.changes() > 0 || !queue.isReady() || queue.isPaused())) {
        // Signalled by drain(); the timeout covers a readiness change that raced with the check.
        progress.await(200, TimeUnit.MILLISECONDS);
      }
      return state != State.CLOSED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Runs one delivery read. While every pooled connection is in use (the server is busy, not the database down),
   * it waits with jittered backoff and tries again for as long as the session is open: a busy pool must not end
   * streams, or every client would reconnect at once and make it busier.
   */
  private <T> T whenNotBusy(Supplier<T> read) {
    long capMillis = 50;
    while (true) {
      try {
        return read.get();
      } catch (RuntimeException e) {
        if (!SyncStore.isOverloaded(e) || currentState() == State.CLOSED) {
          throw e;
        }
        log.debug("Client '{}': server busy during delivery, retrying in up to {} ms", clientId, capMillis);
        try {
          Thread.sleep(ThreadLocalRandom.current().nextLong(capMillis / 2, capMillis + 1));
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
        capMillis = Math.min(capMillis * 2, 2_000);
      }
    }
  }

  private void failDelivery(RuntimeException e) {
    if (SyncStore.isUnavailable(e)) {
      log.warn("Client '{}': database unavailable during delivery; ending the stream", clientId);
    } else {
      log.error("Client '{}': delivery failed; ending the stream", clientId, e);
    }
    close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
        "the server could not read changes for this stream; reconnect and resume from your last cursor"))
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
  private void enqueue(Outgoing outgoing) {
    if (state != State.CLOSED) {
      queue.add(outgoing);
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
      if (!silent && queue.isEmpty() && state == State.LIVE && frontier.compareTo(queue.sent()) > 0
          && ++quietTicks >= QUIET_TICKS_BEFORE_FRONTIER) {
        // Nothing matched this stream's filter for a while, but the log moved on: tell the client how far it is,
        // so that a reconnect resumes from here instead of rescanning everything since it went live.
        enqueue(changesMessage(List.of(), frontier, SyncPhase.SYNC_PHASE_LIVE));
        quietTicks = 0;
      } else if (!silent && queue.isEmpty()) {
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
  private void close(Status status) {
    lock.lock();
    try {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED;
      // Control messages (push results, errors) still go out; changes not yet sent are left for the resume.
      queue.close(status);
    } finally {
      lock.unlock();
    }
    liveFeed.leave(this);
    if (holdsClientSlot) {
      clientStreams.release(clientId);
    }
    inbound.shutdown();
    delivery.shutdown();
    onClose.run();
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  private State currentState() {
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
    return queue.changes() == 0 && !queue.hasChangeBatches() ? frontier : queue.sent();
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
   * @param maxQueuedChanges the most changes ever buffered at once (bounded by the configured limit)
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
      return new Stats(clientId, state, queue.changes(), queue.mostChanges(), queue.mostMessages(), fallbacks,
          queue.mostBytes());
    } finally {
      lock.unlock();
    }
  }
}

package io.deltasync.server.stream;

import com.google.rpc.Code;
import io.deltasync.server.admission.HelloAdmission;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.error.Errors;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.stream.OutboundQueue.Outgoing;
import io.deltasync.server.stream.SyncSession.State;
import io.deltasync.server.wire.MessageBudget;
import io.deltasync.server.wire.SharedResponses;
import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import io.grpc.protobuf.StatusProto;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Change delivery for one stream: the initial state, catch-up from the change log at the client's pace, live pages
 * from the node's {@link LiveFeed}, and the fall back to catch-up when the client reads too slowly. Reads run on
 * the stream's own delivery thread, one page at a time, each only once the previous one went to gRPC; live pages
 * are delivered on the live feed's thread when the stream is free, else handed to that same delivery thread
 * ({@link LiveHandOff}), so order and the catch-up/live seam hold.
 *
 * <p>Shares the session's lock and {@link OutboundQueue}; the protocol state ({@link SyncSession.State}) stays with
 * the session, which tells this class where to start ({@link #startFrom}). Everything here guarded by the lock is
 * marked so.
 */
final class ChangeDelivery implements LiveFeed.Subscriber {
  private static final Logger log = LoggerFactory.getLogger(ChangeDelivery.class);

  private final SyncSession session;
  private final SessionSettings settings;
  private final ChangeFeed changeFeed;
  private final LiveFeed liveFeed;
  private final OutboundQueue queue;
  private final ReentrantLock lock;
  private final Condition progress;
  // Used by the delivery thread only.
  private final PageSizer pages;
  private final ExecutorService delivery = Executors.newSingleThreadExecutor(
      Thread.ofVirtual().name("deltasync-sync-out-", 0).factory());
  // Live pages: on the feed's thread when this stream is free, else on the delivery thread, in feed order.
  private final LiveHandOff live;
  // Guarded by lock.
  private ChangeFilter filter = ChangeFilter.all();
  private Position frontier;
  // The wire cursor at frontier, computed where frontier is read (outside any lock, or by the live feed once per
  // page): encoding a cursor may need a query (its history fingerprint), never under the session or feed lock.
  private String frontierCursor;
  private long fallbacks;
  private int quietTicks;
  // The stream's turn between hello and first page (admission.HelloAdmission), and whether that page is reached.
  private HelloAdmission.Ticket turn;
  private boolean started;
  private boolean firstPageReached;

  ChangeDelivery(SyncSession session, SessionSettings settings, ChangeFeed changeFeed, LiveFeed liveFeed,
      OutboundQueue queue, ReentrantLock lock, Condition progress) {
    this.session = session;
    this.settings = settings;
    this.changeFeed = changeFeed;
    this.liveFeed = liveFeed;
    this.queue = queue;
    this.lock = lock;
    this.progress = progress;
    // An initial-state or catch-up page holds at most the changes a live stream buffers, as many as its byte budget
    // holds at the sizes last read (one such page is queued at a time, and one more is read ahead). Its first read
    // is SYNC_BATCH_SIZE rows (a new client's first screen arrives quickly), then as many as the budget holds.
    this.pages = new PageSizer(pageBytes(settings), readPageRows(settings), settings.pageSize());
    this.live = new LiveHandOff(lock, delivery, this::deliverLivePage);
  }

  /**
   * How many times {@code DELTASYNC_STREAM_QUEUE_CHANGES} an initial-state or catch-up page may hold. Each read is
   * bounded by the page's byte budget in what it returns ({@code store.BoundedReads}: rows are kept while their
   * running size stays within the budget, always at least one), but PostgreSQL still prints and sizes every row of
   * the read's row count before the filter: at a jump from small rows to large documents a cap of 10 made one read
   * print up to 10,000 large documents, which ran past the statement timeout and was retried forever (a review test;
   * docs/performance.md, "Sixth pass: catch-up"). So the cap stays 1 until a read stops in the database at its budget.
   */
  static final int READ_PAGE_ROWS_PER_QUEUED_CHANGE = 1;

  /** The most rows of one initial-state or catch-up page. */
  static int readPageRows(SessionSettings settings) {
    return (int) Math.min(Integer.MAX_VALUE, (long) READ_PAGE_ROWS_PER_QUEUED_CHANGE * settings.maxQueuedChanges());
  }

  private static long pageBytes(SessionSettings settings) {
    return Math.min(settings.pageBytes(), settings.maxQueuedBytes());
  }

  /**
   * Under the lock, after a hello: what passes the stream's subscriptions, and where delivery starts (null = the
   * initial state, else catch-up after that position). The session has set its state accordingly.
   */
  void startFrom(ChangeFilter filter, Position resumeAfter, String resumeCursor) {
    this.filter = filter;
    this.started = true;
    if (resumeAfter != null) {
      frontier = resumeAfter;
      frontierCursor = resumeCursor;
      queue.sentUpTo(resumeAfter);
    }
    delivery.execute(resumeAfter == null ? this::deliverInitialStateThenCatchUp : this::catchUp);
  }

  /**
   * After the hello: the delivery keeps the stream's admission turn until its first page is queued, it goes live,
   * or it ends; a hello that did not start delivery gives it back now.
   */
  void holdTurnUntilFirstPage(HelloAdmission.Ticket ticket) {
    lock.lock();
    try {
      if (!started || firstPageReached || session.state == State.CLOSED) {
        ticket.close();
      } else {
        turn = ticket;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: the start-up work of this stream is done (or over), the next hello may go ahead. */
  private void firstPageReached() {
    firstPageReached = true;
    if (turn != null) {
      turn.close();
      turn = null;
    }
  }

  /** Under the lock: the filter changes pass. */
  ChangeFilter filter() {
    return filter;
  }

  /** Under the lock: how far the stream has read the log (null before the initial state is queued whole). */
  Position frontier() {
    return frontier;
  }

  /** Under the lock: how often the stream fell back from live delivery to catch-up. */
  long fallbacks() {
    return fallbacks;
  }

  /**
   * Under the lock, on each heartbeat tick with nothing queued: whether a quiet live stream is due its frontier
   * (nothing matched its filter for a while, but the log moved on), and if so queues it.
   */
  boolean sendFrontierIfQuiet(int quietTicksBeforeFrontier) {
    if (session.state == State.LIVE && frontier.compareTo(queue.sent()) > 0
        && ++quietTicks >= quietTicksBeforeFrontier) {
      session.enqueue(changesMessage(List.of(), frontier, frontierCursor, SyncPhase.SYNC_PHASE_LIVE));
      quietTicks = 0;
      return true;
    }
    return false;
  }

  /** Stops the delivery thread (the session closed). */
  void shutdown() {
    lock.lock();
    try {
      firstPageReached();
    } finally {
      lock.unlock();
    }
    delivery.shutdown();
  }


  /**
   * Current state without a long transaction: the watermark first, then the live entities page by page, then
   * catch-up from the watermark. A change committed while the pages are read is either already in a page or at
   * or above the watermark, so it is caught up afterwards; one seen twice is harmless (same row_version).
   */
  void deliverInitialStateThenCatchUp() {
    try {
      Position end = whenNotBusy(changeFeed::visible);
      String endCursor = whenNotBusy(() -> changeFeed.encodeAt(end));
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
          int rows = pages.nextRows();
          SyncStore.StatePage state = readShrinking(rows, n -> changeFeed.initialState(include, except, from, n,
              pages.budgetBytes()));
          List<Change> read = state.changes();
          int fit = pages.fitting(read, Change::getSerializedSize);
          // What did not fit the page's bytes is read again for the next page.
          List<Change> creates = read.subList(0, fit);
          passDone = !state.more() && fit == read.size();
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
      // Each pass keeps the credential's restriction to the scopes it may read.
      passes.add(new ChangeFilter[] {new ChangeFilter(List.of(filter.selectors().get(i)), filter.readable()),
          new ChangeFilter(filter.selectors().subList(0, i))});
    }
    return passes;
  }

  /** Queues a page of the initial state; the last one carries the cursor. False if the session moved on. */
  private boolean enqueueInitialState(List<Change> changes, boolean last, Position end, String endCursor) {
    lock.lock();
    try {
      if (session.state != State.INITIAL_STATE) {
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
        session.enqueue(new Outgoing(SyncResponse.newBuilder().setChanges(batch).build(), chunks.get(i).size(),
            endsState ? end : null));
      }
      if (last) {
        frontier = end;
        frontierCursor = endCursor;
        session.state = State.CATCHING_UP;
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * A page of the change log as catch-up sends it.
   *
   * @param filter the filter it was read with (a page read ahead for another filter is not used)
   * @param page the page as read
   * @param read its changes, each with its cursor set
   * @param frontierCursor the wire cursor at the page's frontier
   */
  private record CatchUpPage(ChangeFilter filter, ChangePage page, List<ChangePage.Positioned> read,
      String frontierCursor) {}

  /** Reads a catch-up page and sets its cursors (on the delivery thread, or ahead of it: see {@link ReadAhead}). */
  private CatchUpPage readCatchUp(Position from, int rows, ChangeFilter readFilter) {
    ChangePage page = readShrinking(rows, n -> changeFeed.readPage(from, n, pages.budgetBytes(), readFilter));
    List<ChangePage.Positioned> read = page.changes();  // each with its cursor set as it was read
    // A page that ends at its last change has that change's cursor (the same fingerprint: the change's own commit
    // time); otherwise the frontier lies past rows the filter skipped, and its fingerprint is looked up.
    String frontierCursor = !read.isEmpty() && read.getLast().position().equals(page.frontier())
        ? read.getLast().change().getCursor()
        : whenNotBusy(() -> changeFeed.encodeAt(page.frontier()));
    return new CatchUpPage(readFilter, page, read, frontierCursor);
  }

  /**
   * Reads the change log from the session's frontier at the client's pace, then joins the live feed. The next page
   * is read while this one is sent (one page ahead, {@link ReadAhead}); it is used only if the stream is still
   * catching up from where it starts, with the same filter.
   */
  void catchUp() {
    ReadAhead<Position, CatchUpPage> ahead = null;
    try {
      while (true) {
        if (!awaitRoom()) {
          ahead = ReadAhead.discard(ahead);
          return;
        }
        Position from;
        ChangeFilter readFilter;
        lock.lock();
        try {
          if (session.state != State.CATCHING_UP) {
            ahead = ReadAhead.discard(ahead);
            return;
          }
          from = frontier;
          readFilter = filter;
        } finally {
          lock.unlock();
        }
        CatchUpPage current = ahead == null ? null : ahead.take(from);
        ahead = null;
        if (current == null || current.filter() != readFilter) {
          current = readCatchUp(from, pages.nextRows(), readFilter);
        }
        ChangePage page = current.page();
        List<ChangePage.Positioned> read = current.read();
        // Sized as sent (with their cursors); what does not fit the page's bytes is read again next round.
        int fit = pages.fitting(read, c -> c.change().getSerializedSize());
        Position reached = page.frontier();
        String reachedCursor = current.frontierCursor();
        boolean more = page.hasMore();
        if (fit < read.size()) {
          reached = read.get(fit - 1).position();
          reachedCursor = read.get(fit - 1).change().getCursor();
          more = true;
        }
        if (more) {
          Position next = reached;
          int rows = pages.nextRows();
          ahead = ReadAhead.start(next, () -> readCatchUp(next, rows, readFilter));
        }
        List<ChangePage.Positioned> changes = new ArrayList<>(fit);
        lock.lock();
        try {
          if (session.state != State.CATCHING_UP) {
            ahead = ReadAhead.discard(ahead);
            return;
          }
          for (ChangePage.Positioned positioned : read.subList(0, fit)) {
            if (!session.answeredOnThisStream(positioned.change())) {
              changes.add(positioned);
            }
          }
          if (!changes.isEmpty()) {
            enqueueChanges(changes, reached, reachedCursor, SyncPhase.SYNC_PHASE_CATCH_UP);
          }
          frontier = reached;
          frontierCursor = reachedCursor;
        } finally {
          lock.unlock();
        }
        if (!more) {
          // A catch-up page may hold more changes than a live stream buffers (pages.maxRows): it drains before the
          // stream joins, or the first live page would find the buffer full and send the stream back to catch-up.
          if (changes.size() > settings.maxQueuedChanges() && !awaitRoom()) {
            return;
          }
          if (liveFeed.join(this, reached, this::goLive)) {
            return;
          }
        }
      }
    } catch (RuntimeException e) {
      ReadAhead.discard(ahead);
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
      if (session.state != State.CATCHING_UP) {
        return false;
      }
      session.state = State.LIVE;
      firstPageReached();
      // An empty batch marks the switch, and gives the client a cursor to acknowledge.
      session.enqueue(changesMessage(List.of(), frontier, frontierCursor, SyncPhase.SYNC_PHASE_LIVE));
      return true;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Called on the live feed's thread (or one of its fan-out threads): delivers the page right there when this
   * stream is free (its lock is not held and no earlier page waits on its delivery thread), else hands it to the
   * stream's own delivery thread ({@link LiveHandOff}); the feed never waits for one stream. Pages reach the stream
   * in feed order either way, and catch-up runs on the delivery thread while the stream is not live (a page then
   * finds it not LIVE and is skipped), so order and the join seam hold.
   */
  @Override
  public void onPage(LiveFeed.Page page) {
    live.offer(page, this::onDropped);
  }

  /** Live delivery for this stream broke: it must not stay open but deaf. */
  @Override
  public void onDropped(Throwable cause) {
    session.onDropped(cause);
  }

  private void deliverLivePage(LiveFeed.Page page) {
    lock.lock();
    try {
      if (session.state != State.LIVE) {
        return;
      }
      if (page.from().compareTo(frontier) > 0) {
        // Cannot happen while join() keeps its promise; if it ever does, reading the log closes the gap.
        log.warn("Client '{}' saw a gap in live pages; catching up from the change log", session.clientId);
        fallBackToCatchUp();
        return;
      }
      if (page.to().compareTo(frontier) <= 0) {
        return;
      }
      List<ChangePage.Positioned> entries = page.entries();
      List<ChangePage.Positioned> changes = new ArrayList<>();
      BitSet included = new BitSet(entries.size());
      long bytes = 0;
      long framed = 0;
      for (int i = 0; i < entries.size(); i++) {
        ChangePage.Positioned entry = entries.get(i);
        Entity entity = entry.change().getEntity();
        if (filter.matches(entity.getScope(), entity.getEntityType()) && entry.position().compareTo(frontier) > 0
            && !session.answeredOnThisStream(entry.change())) {
          changes.add(entry);
          included.set(i);
          int size = entry.change().getSerializedSize();  // memoized on the page's one Change instance
          bytes += size;
          framed += size + MessageBudget.FRAMING_BYTES;
        }
      }
      if (!changes.isEmpty()) {
        if (queue.changes() + changes.size() > settings.maxQueuedChanges()
            || queue.bytes() + bytes > settings.maxQueuedBytes()) {
          fallBackToCatchUp();
          return;
        }
        if (changes.size() == 1 || framed <= pages.budgetBytes()) {
          // One message: the same for every stream that receives the same entries of this page (same filter
          // outcome, same cursor), so it is built and serialized once for all of them. A stream whose own change
          // was left out has other entries, hence its own message.
          quietTicks = 0;
          SyncResponse shared = page.message(included, unused -> SharedResponses.share(changesMessage(
              changes.stream().map(ChangePage.Positioned::change).toList(), page.to(), page.toCursor(),
              SyncPhase.SYNC_PHASE_LIVE).message()));
          session.enqueue(new Outgoing(shared, changes.size(), page.to()));
        } else {
          enqueueChanges(changes, page.to(), page.toCursor(), SyncPhase.SYNC_PHASE_LIVE);
        }
      }
      frontier = page.to();
      frontierCursor = page.toCursor();
    } finally {
      lock.unlock();
    }
  }

  /** Under the lock: forget queued changes, resume from what the client was actually sent. */
  private void fallBackToCatchUp() {
    liveFeed.leave(this);
    queue.dropChanges();
    frontier = queue.sent();
    frontierCursor = null;  // set again by the catch-up read before anything is sent at it
    session.state = State.CATCHING_UP;
    fallbacks++;
    settings.telemetry().fellBack();
    log.debug("Client '{}' reads too slowly for live delivery; catching up from the change log", session.clientId);
    delivery.execute(this::catchUp);
  }

  /**
   * Under the lock: queues changes as one or more messages, each within the stream's page budget (itself below the
   * message size clients accept: a page of 50 documents of 256 KiB would not fit 4 MiB). Every message but the last
   * ends at its own last change.
   */
  private void enqueueChanges(List<ChangePage.Positioned> changes, Position reached, String reachedCursor,
      SyncPhase phase) {
    quietTicks = 0;
    List<List<ChangePage.Positioned>> chunks = bySize(changes, c -> c.change().getSerializedSize());
    for (int i = 0; i < chunks.size(); i++) {
      List<ChangePage.Positioned> chunk = chunks.get(i);
      boolean last = i == chunks.size() - 1;
      ChangePage.Positioned end = chunk.getLast();
      session.enqueue(changesMessage(chunk.stream().map(ChangePage.Positioned::change).toList(),
          last ? reached : end.position(), last ? reachedCursor : end.change().getCursor(), phase));
    }
  }

  private <T> List<List<T>> bySize(List<T> items, java.util.function.ToIntFunction<T> sizeOf) {
    return MessageBudget.split(items, sizeOf, pages.budgetBytes());
  }

  private static Outgoing changesMessage(List<Change> changes, Position reached, String cursor, SyncPhase phase) {
    return new Outgoing(SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder().addAllChanges(changes)
        .setCursor(cursor).setPhase(phase)).build(), changes.size(), reached);
  }

  /** Waits until the previous page has been handed to gRPC and the transport can take more; false if closed. */
  private boolean awaitRoom() {
    lock.lock();
    try {
      while (session.state != State.CLOSED && (queue.changes() > 0 || !queue.isReady() || queue.isPaused())) {
        // From here on the client sets the pace: the stream's start-up is over.
        firstPageReached();
        // Signalled by drain(); the timeout covers a readiness change that raced with the check.
        progress.await(200, TimeUnit.MILLISECONDS);
      }
      return session.state != State.CLOSED;
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
  <T> T whenNotBusy(Supplier<T> read) {
    long capMillis = 50;
    while (true) {
      try {
        return read.get();
      } catch (RuntimeException e) {
        if (e instanceof PageReadStuck || !SyncStore.isOverloaded(e) || session.currentState() == State.CLOSED) {
          throw e;
        }
        log.debug("Client '{}': server busy during delivery, retrying in up to {} ms", session.clientId, capMillis);
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

  /**
   * Runs an initial-state or catch-up page read of {@code rows} rows as {@link #whenNotBusy} does, except that a read
   * that ran past the statement timeout is tried again with half the rows, down to one. A read is bounded by bytes in
   * what it returns, but PostgreSQL prints and sizes every row of its count before it keeps a budget of them: at a
   * jump from small rows to large documents the count follows the small rows, and the same read would run past the
   * timeout at every attempt (docs/performance.md, "Seventh pass: catch-up"). The next page's count follows the sizes
   * this read returned ({@link PageSizer}).
   */
  private <T> T readShrinking(int rows, IntFunction<T> read) {
    int[] asked = {rows};
    int[] timeoutsAtOneRow = {0};
    return whenNotBusy(() -> {
      try {
        return read.apply(asked[0]);
      } catch (RuntimeException e) {
        if (ranPastStatementTimeout(e)) {
          if (asked[0] > 1) {
            asked[0] = Math.max(1, asked[0] / 2);
            READS_SHRUNK.incrementAndGet();
            log.debug("Client '{}': a page read ran past the statement timeout; asking for {} rows",
                session.clientId, asked[0]);
          } else if (++timeoutsAtOneRow[0] >= TIMEOUTS_AT_ONE_ROW) {
            // Not the rows' number any more (a lock held by another session, a document too large to print in
            // time): retrying for ever would hold a pooled connection per attempt and tell the client nothing.
            throw new PageReadStuck(timeoutsAtOneRow[0], e);
          }
        }
        throw e;
      }
    });
  }

  /** How many times a page read of one row may run past the statement timeout before the stream ends. */
  static final int TIMEOUTS_AT_ONE_ROW = 3;

  /** A page read that ran past the statement timeout {@link #TIMEOUTS_AT_ONE_ROW} times at one row. */
  static final class PageReadStuck extends RuntimeException {
    PageReadStuck(int attempts, RuntimeException last) {
      super("a page read ran past the statement timeout " + attempts + " times at one row", last);
    }
  }

  // Since start, for tests and diagnostics: page reads tried again with fewer rows after a statement timeout.
  private static final AtomicLong READS_SHRUNK = new AtomicLong();

  /** Page reads tried again with fewer rows after a statement timeout, since start. */
  static long readsShrunk() {
    return READS_SHRUNK.get();
  }

  /** Whether PostgreSQL cancelled the statement (SQLSTATE 57014: statement_timeout, or a cancel request). */
  private static boolean ranPastStatementTimeout(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException sql && "57014".equals(sql.getSQLState())) {
        return true;
      }
    }
    return false;
  }

  private void failDelivery(RuntimeException e) {
    lock.lock();
    try {
      firstPageReached();
    } finally {
      lock.unlock();
    }
    if (e instanceof PageReadStuck) {
      log.warn("Client '{}': {}; ending the stream", session.clientId, e.getMessage());
      session.close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE,
          ErrorReason.ERROR_REASON_RECONNECT, "the server could not read the next change for this stream within its "
              + "statement timeout (" + e.getMessage() + "); reconnect later and resume from your last cursor"))
          .getStatus());
      return;
    }
    if (SyncStore.isUnavailable(e)) {
      log.warn("Client '{}': database unavailable during delivery; ending the stream", session.clientId);
    } else {
      log.error("Client '{}': delivery failed; ending the stream", session.clientId, e);
    }
    session.close(StatusProto.toStatusRuntimeException(Errors.status(Code.UNAVAILABLE, ErrorReason.ERROR_REASON_RECONNECT,
        "the server could not read changes for this stream; reconnect and resume from your last cursor"))
        .getStatus());
  }
}

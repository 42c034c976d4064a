package io.deltasync.server.changefeed;

import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.telemetry.SyncTelemetry;
import io.deltasync.v1.Change;
import io.deltasync.v1.SyncResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one change-log reader of a server process: it follows the log from the moment the server starts and hands
 * every page to every live subscriber, so N streaming clients cost one query per page, not N.
 *
 * <p>How it learns of new changes, without any NOTIFY in a write transaction (a transaction that notifies holds
 * PostgreSQL's global notification lock from pre-commit through its WAL flush, which serializes every such commit
 * in the database and defeats group commit):
 * <ul>
 *   <li>this node's own writes: {@link #committed()} after each commit wakes the reader in-process at once;
 *   <li>other deltasync nodes: the same call sends at most one NOTIFY per {@link #NOTIFY_INTERVAL}, from a
 *       dedicated autocommit connection that never writes data; a listening thread on every node wakes its reader;
 *   <li>plain-SQL writers (other services): polling. The reader polls every {@code pollInterval} when idle and every
 *       {@link #BUSY_POLL_INTERVAL} while recent reads found changes, so the worst-case latency for a plain-SQL write
 *       is one {@code pollInterval} (DELTASYNC_FEED_POLL_MILLIS, 250 ms by default) plus the read.
 * </ul>
 * A lost wake-up costs latency, never a change: polling also covers changes that could not be delivered yet because
 * an older transaction was still open (nobody notifies when that ends).
 */
public final class LiveFeed implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LiveFeed.class);
  static final String CHANNEL = "deltasync_change_log";
  private static final String NOTIFY_STATEMENT = "SELECT pg_notify('" + CHANNEL + "', '')";
  /** At most one NOTIFY to other nodes per this interval, however many batches commit. */
  static final Duration NOTIFY_INTERVAL = Duration.ofMillis(50);
  /** The poll interval while changes keep arriving (bounded by the configured one). */
  static final Duration BUSY_POLL_INTERVAL = Duration.ofMillis(20);
  /** How many empty polls in a row end the busy period. */
  private static final int BUSY_POLLS = 25;
  /** How often the reader checks that the epoch and the database's identity are still the ones it serves. */
  private static final Duration IDENTITY_CHECK_INTERVAL = Duration.ofSeconds(5);
  /** Below this many subscribers per thread a page is delivered on the feed's thread alone. */
  static final int MIN_SUBSCRIBERS_PER_THREAD = 64;
  private static final Subscriber[] NO_SUBSCRIBERS = new Subscriber[0];

  /**
   * Receives pages; called on the feed's thread or one of its fan-out threads (one page at a time, in order, not
   * always on the same thread), so it must never wait: it delivers the page at once if it can do so without waiting
   * for anything (a stream whose lock is free only queues and writes what its transport takes), else it hands the
   * page to its own executor. The feed reads its next page once every subscriber has had this one, so what commits
   * meanwhile comes in that next page: the busier delivery is, the fewer, larger pages.
   */
  public interface Subscriber {
    /** A page of changes, contiguous with the previous one (its {@code from} is the previous {@code to}). */
    void onPage(Page page);

    /**
     * The feed dropped this subscriber because {@link #onPage} threw: no page reaches it any more, so it must not
     * go on as if it were live (the default does nothing, for subscribers that need no telling).
     */
    default void onDropped(Throwable cause) {}
  }

  /**
   * All changes in (from, to], unfiltered, each with its cursor set and its position as a value (so that every
   * subscriber need not parse cursors again).
   *
   * @param from the position the page starts after
   * @param to the position the page ends at (inclusive)
   * @param entries the changes with their positions, in order
   * @param toCursor the wire cursor at {@code to}, encoded once for every subscriber
   * @param messages the messages built from this page, by which of its entries they hold (see {@link #message})
   */
  public record Page(Position from, Position to, List<ChangePage.Positioned> entries, String toCursor,
      Map<BitSet, SyncResponse> messages) {
    /** A page nobody has built a message of yet. */
    public Page(Position from, Position to, List<ChangePage.Positioned> entries, String toCursor) {
      this(from, to, entries, toCursor, new ConcurrentHashMap<>());
    }

    /** The changes, in order. */
    public List<Change> changes() {
      return entries.stream().map(ChangePage.Positioned::change).toList();
    }

    /**
     * The one message of this page for every stream that receives the entries in {@code included} (indexes into
     * {@link #entries}) and nothing else: built by the first stream that asks, then the same instance for all (so
     * that it is serialized once, see wire.SharedResponses). {@code included} must not change afterwards.
     */
    public SyncResponse message(BitSet included, Function<BitSet, SyncResponse> build) {
      return messages.computeIfAbsent(included, build);
    }
  }

  /** Opens the connection the feed LISTENs on. */
  @FunctionalInterface
  public interface ListenConnections {
    /** A new connection, owned by the caller. */
    Connection open() throws SQLException;
  }

  private final ChangeFeed feed;
  private final SyncStore store;
  private final ListenConnections connections;
  private final Duration pollInterval;
  private final int pageSize;
  private final Set<Subscriber> subscribers = ConcurrentHashMap.newKeySet();
  private final ReentrantLock dispatchLock = new ReentrantLock();
  // How many threads hand a page to the subscribers (the feed's own and fanOutThreads - 1 of the pool's).
  private final int fanOutThreads;
  private final ExecutorService fanOutPool;
  // True on a pool thread while it delivers a page (under the dispatch lock, which the feed's thread holds).
  private final ThreadLocal<Boolean> delivering = ThreadLocal.withInitial(() -> false);
  private final Thread thread;
  private final Thread listener;
  private final Thread notifier;
  private final Semaphore wakeUps = new Semaphore(0);
  private final Semaphore notifyRequests = new Semaphore(0);
  // Counted down by the listening and the notifying thread once each has tried to open its connection at start.
  private final java.util.concurrent.CountDownLatch connectionsTried = new java.util.concurrent.CountDownLatch(2);
  private volatile boolean running = true;
  private volatile Runnable onHistoryReset = () -> { };
  private volatile SyncTelemetry telemetry = SyncTelemetry.disabled();
  private volatile long lastReadNanos = System.nanoTime();
  private long lastIdentityCheckNanos = System.nanoTime();
  private Position frontier;
  // The fingerprint of the history up to frontier (see Cursor): pages are read unfiltered, so it is the commit time
  // of the last row dispatched, and needs no query; unknown after skipping ahead (read again at the next page).
  private long anchor;
  private boolean anchorKnown = true;
  private boolean recovering;
  private int quietPolls = BUSY_POLLS;
  private long lastSkipNanos = System.nanoTime() - Duration.ofDays(1).toNanos();
  private Connection listenConnection;
  private boolean listenTried;  // the listening thread's own
  // What failed among the start-up opens of the LISTEN and NOTIFY connections, for the start-up log; empty if none.
  private final java.util.Queue<String> startFailures = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private boolean notifyAtStart;  // set before the notifying thread starts
  private Connection notifyConnection;

  /**
   * Starts following the log from what is visible now.
   *
   * @param reader the store the feed reads through: on its own connection, so that requests waiting for the pool
   *     never hold up delivery to every client
   */
  public LiveFeed(ChangeFeed feed, SyncStore reader, ListenConnections connections, Duration pollInterval,
      int pageSize) {
    this(feed, reader, connections, pollInterval, pageSize, 1);
  }

  /**
   * As above, with {@code fanOutThreads} threads handing each page to the subscribers: the feed's own and a pool of
   * {@code fanOutThreads - 1} (platform threads: the work never blocks), each taking its share of the subscribers,
   * the next page read once all have had this one.
   */
  public LiveFeed(ChangeFeed feed, SyncStore reader, ListenConnections connections, Duration pollInterval,
      int pageSize, int fanOutThreads) {
    this(feed, reader, connections, pollInterval, pageSize, fanOutThreads, true);
  }

  /**
   * As above; {@code notifyAtStart} opens the NOTIFY connection at start (see {@link #awaitConnections}) rather than
   * at the first commit (DELTASYNC_WARMUP_FEED_CONNECTIONS).
   */
  public LiveFeed(ChangeFeed feed, SyncStore reader, ListenConnections connections, Duration pollInterval,
      int pageSize, int fanOutThreads, boolean notifyAtStart) {
    this(feed, reader, connections, pollInterval, pageSize, fanOutThreads, null, notifyAtStart);
  }

  /**
   * A feed that reads nothing: it starts at {@code frontier} and hands subscribers only the pages given to
   * {@link #publish}, through the same fan-out as a following feed's. The start-up warm-up of live delivery
   * (warmup.DeliveryWarmup) gives its own streams synthetic pages with it; no real subscriber ever joins it.
   */
  public static LiveFeed detached(ChangeFeed feed, Position frontier, int fanOutThreads) {
    return new LiveFeed(feed, null, null, Duration.ofDays(1), 1, fanOutThreads, frontier, false);
  }

  private LiveFeed(ChangeFeed feed, SyncStore reader, ListenConnections connections, Duration pollInterval,
      int pageSize, int fanOutThreads, Position detachedAt, boolean notifyAtStart) {
    if (fanOutThreads < 1) {
      throw new IllegalArgumentException("fanOutThreads: " + fanOutThreads + " (expected: >= 1)");
    }
    this.fanOutThreads = fanOutThreads;
    this.fanOutPool = fanOutThreads == 1 ? null : Executors.newFixedThreadPool(fanOutThreads - 1,
        Thread.ofPlatform().name("deltasync-live-fan-out-", 0).daemon().factory());
    this.feed = feed;
    this.store = reader;
    this.connections = connections;
    this.pollInterval = pollInterval;
    this.pageSize = pageSize;
    if (detachedAt != null) {
      this.frontier = detachedAt;
      this.anchor = Cursor.NO_ANCHOR;
      this.thread = null;
      this.listener = null;
      this.notifier = null;
      connectionsTried.countDown();
      connectionsTried.countDown();
      return;
    }
    this.frontier = store.visiblePosition();
    this.anchor = anchorAt(frontier);
    this.thread = Thread.ofPlatform().name("deltasync-live-feed").daemon().start(this::run);
    this.listener = Thread.ofPlatform().name("deltasync-live-feed-listen").daemon().start(this::listen);
    this.notifyAtStart = notifyAtStart;
    this.notifier = Thread.ofPlatform().name("deltasync-live-feed-notify").daemon().start(this::sendNotifications);
  }

  /**
   * On a {@link #detached} feed: hands {@code page} to every subscriber as a page read from the log would be (the
   * frontier moves to its end), and returns once every subscriber has had it.
   *
   * @throws IllegalStateException on a feed that follows the change log
   */
  public void publish(Page page) {
    if (thread != null) {
      throw new IllegalStateException("publish: only a detached feed takes pages from outside");
    }
    Map<Subscriber, Throwable> failed = new ConcurrentHashMap<>();
    dispatchLock.lock();
    try {
      frontier = page.to();
      fanOut(page, failed);
    } finally {
      dispatchLock.unlock();
    }
    failed.forEach(LiveFeed::dropped);
    telemetry.dispatched(page.changes());
  }

  /** How many subscribers the feed hands pages to now. */
  public int subscribers() {
    return subscribers.size();
  }

  /** Makes the reader read now (or as soon as it finishes the read under way). Never blocks. */
  public void wake() {
    if (wakeUps.availablePermits() == 0) {
      wakeUps.release();
    }
  }

  /**
   * A write of this node has committed: wakes this node's reader now and, coalesced, tells the other nodes. Never
   * blocks; called on the write path after commit, never inside a transaction.
   */
  public void committed() {
    wake();
    if (notifyRequests.availablePermits() == 0) {
      notifyRequests.release();
    }
  }

  /**
   * Adds a subscriber that has itself read everything up to {@code readUpTo}. Succeeds only if the feed has not
   * dispatched past that point yet; otherwise the subscriber would miss the pages in between and must read
   * further on its own first, then try again. Pages already covered by the subscriber's own reads overlap, and the
   * subscriber skips what it has.
   *
   * @param onJoin runs under the dispatch lock before any page can reach the subscriber; it returns false if the
   *     subscriber no longer wants pages (it closed meanwhile), and then it is not added
   */
  public boolean join(Subscriber subscriber, Position readUpTo, BooleanSupplier onJoin) {
    dispatchLock.lock();
    try {
      if (frontier.compareTo(readUpTo) > 0) {
        return false;
      }
      if (onJoin.getAsBoolean()) {
        subscribers.add(subscriber);
      }
      return true;
    } finally {
      dispatchLock.unlock();
    }
  }

  /** Removes a subscriber; no page reaches it after this returns. */
  public void leave(Subscriber subscriber) {
    if (delivering.get()) {
      // A subscriber leaving while a fan-out thread hands it this page (it falls back to catch-up): the feed's
      // thread holds the lock and waits for this thread, so taking it would deadlock. This page is the one being
      // delivered to it; the next is dispatched to the subscribers as they are once every thread is done.
      subscribers.remove(subscriber);
      return;
    }
    dispatchLock.lock();
    try {
      subscribers.remove(subscriber);
    } finally {
      dispatchLock.unlock();
    }
  }

  /** Counts what this reader dispatches (commit-to-dispatch lag) in {@code telemetry}. */
  public void observe(SyncTelemetry telemetry) {
    this.telemetry = telemetry;
  }

  /**
   * What to do when the database went back in time under the server (see {@link ChangeFeed#historyReset}): every
   * stream must end and its client resume (and be told to resync), because positions it was given may be handed
   * out again. Runs on the feed's thread, after the feed has started a new epoch.
   */
  public void onHistoryReset(Runnable action) {
    this.onHistoryReset = action;
  }

  private void run() {
    while (running) {
      try {
        if (recovering || System.nanoTime() - lastIdentityCheckNanos > IDENTITY_CHECK_INTERVAL.toNanos()) {
          // After a lost connection the database may come back as another one (a promoted replica, a restored
          // backup); and now and then anyway, because another node may have noticed first and started a new epoch.
          recovering = false;
          lastIdentityCheckNanos = System.nanoTime();
          if (feed.checkIdentity(store)) {  // on the feed's own connection, never waiting for the pool
            reset("another epoch: the database is on another timeline or cluster, or another node started one");
            continue;
          }
        }
        if (skipAheadWhileNobodyListens()) {
          lastReadNanos = System.nanoTime();
          awaitWakeUp(pollInterval);
          continue;
        }
        ChangePage page = store.readChanges(frontier, pageSize, ChangeFilter.all());
        lastReadNanos = System.nanoTime();
        if (page.frontier().compareTo(frontier) > 0) {
          dispatch(page);
        } else if (wentBack()) {
          feed.historyReset(store);
          reset("the database's watermark fell below positions already delivered");
          continue;
        }
        quietPolls = page.changes().isEmpty() ? quietPolls + 1 : 0;
        if (!page.hasMore()) {
          awaitWakeUp(quietPolls < BUSY_POLLS && BUSY_POLL_INTERVAL.compareTo(pollInterval) < 0
              ? BUSY_POLL_INTERVAL : pollInterval);
        }
      } catch (Throwable e) {
        // Supervised: whatever fails (an Error included), the one reader of this node keeps going.
        if (!running) {
          return;
        }
        recovering = true;
        log.warn("Change feed read failed, retrying: {}", e.toString());
        sleep(pollInterval.multipliedBy(4));
      }
    }
  }

  /**
   * The watermark never decreases in one history; below the frontier already dispatched, the database was restored
   * or failed over to a replica that lacks transactions clients have seen.
   */
  private boolean wentBack() {
    return Position.below(store.watermark()).compareTo(frontier) < 0;
  }

  /** Starts again from what is visible now, in the new epoch, and ends every stream. */
  private void reset(String why) {
    log.warn("Change history reset ({}): new epoch {}; ending every stream so that clients resync", why,
        feed.epoch());
    Position visible = store.visiblePosition();
    long visibleAnchor = anchorAt(visible);
    dispatchLock.lock();
    try {
      frontier = visible;
      anchor = visibleAnchor;
      anchorKnown = true;
      subscribers.clear();
    } finally {
      dispatchLock.unlock();
    }
    onHistoryReset.run();
  }

  /** Waits for a wake-up (a local commit, another node's NOTIFY), at most {@code timeout}. */
  private void awaitWakeUp(Duration timeout) {
    try {
      if (wakeUps.tryAcquire(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        wakeUps.drainPermits();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * With no live subscriber, reading and converting every change would be work for nobody (and CPU taken from the
   * writers on a small machine): the frontier just moves to what is visible now. A subscriber that joins later has
   * read up to at least its own position; if that is behind the frontier, join refuses it and it reads further first,
   * as after any page it missed.
   */
  private boolean skipAheadWhileNobodyListens() {
    if (!subscribers.isEmpty()) {
      return false;
    }
    // Not on every wake-up (every local commit): a frontier that lags only makes joining easier, and the first
    // read after a join starts from it.
    long now = System.nanoTime();
    if (now - lastSkipNanos < pollInterval.toNanos()) {
      return true;
    }
    lastSkipNanos = now;
    Position visible = store.visiblePosition();
    if (visible.compareTo(frontier) < 0) {
      return false;  // the watermark went back: the read below notices it and resets
    }
    dispatchLock.lock();
    try {
      if (!subscribers.isEmpty()) {
        return false;
      }
      if (visible.compareTo(frontier) > 0) {
        frontier = visible;
        anchorKnown = false;
      }
      return true;
    } finally {
      dispatchLock.unlock();
    }
  }

  private void dispatch(ChangePage page) {
    if (!anchorKnown) {
      anchor = anchorAt(frontier);
      anchorKnown = true;
    }
    List<ChangePage.Positioned> entries = new ArrayList<>(page.changes().size());
    long reached = anchor;
    for (ChangePage.Positioned positioned : page.changes()) {
      Cursor cursor = feed.cursorOf(positioned);
      entries.add(new ChangePage.Positioned(positioned.position(),
          positioned.change().toBuilder().setCursor(cursor.encode()).build()));
      reached = cursor.anchor();
    }
    feed.remember(page.frontier(), reached);
    Map<Subscriber, Throwable> failed = new ConcurrentHashMap<>();
    dispatchLock.lock();
    try {
      Page out = new Page(frontier, page.frontier(), List.copyOf(entries),
          Cursor.at(feed.epoch(), page.frontier(), reached).encode());
      frontier = page.frontier();
      anchor = reached;
      fanOut(out, failed);
    } finally {
      dispatchLock.unlock();
    }
    // Told outside the lock: a subscriber closing itself takes its own lock, which others hold while leaving.
    failed.forEach(LiveFeed::dropped);
    telemetry.dispatched(page.changes().stream().map(ChangePage.Positioned::change).toList());
  }

  /**
   * Under the dispatch lock: hands {@code page} to every subscriber, on this thread alone or split with the pool;
   * returns once every subscriber has had it (so each gets its pages one at a time, in order).
   */
  private void fanOut(Page page, Map<Subscriber, Throwable> failed) {
    // One array whatever the split, iterated by index: the delivery loop sees the same classes with one thread or
    // several (the start-up delivery warm-up's 128 streams take the split, a first round of 100 does not), so what
    // the warm-up compiled has no class to trap on when the other way comes (docs/performance.md, "Seventh pass: the
    // first round and the storm", found class_check traps in deliver at the first round; this removes one
    // candidate, with no measured change of the first round).
    Subscriber[] all = subscribers.toArray(NO_SUBSCRIBERS);
    int threads = Math.min(fanOutThreads, Math.max(1, all.length / MIN_SUBSCRIBERS_PER_THREAD));
    if (threads == 1) {
      deliver(page, all, 0, all.length, failed);
      return;
    }
    int share = (all.length + threads - 1) / threads;
    List<Future<?>> others = new ArrayList<>(threads - 1);
    for (int t = 1; t < threads; t++) {
      int from = Math.min(all.length, t * share);
      int to = Math.min(all.length, (t + 1) * share);
      others.add(fanOutPool.submit(() -> {
        delivering.set(true);
        try {
          deliver(page, all, from, to, failed);
        } finally {
          delivering.set(false);
        }
      }));
    }
    deliver(page, all, 0, Math.min(all.length, share), failed);
    boolean interrupted = false;
    for (Future<?> other : others) {
      while (true) {
        try {
          other.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;  // closing: the pool's share is finished first, then the feed's thread stops
        } catch (ExecutionException e) {
          log.error("Fan-out of a page failed", e.getCause());
          break;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void deliver(Page page, Subscriber[] to, int from, int end, Map<Subscriber, Throwable> failed) {
    for (int i = from; i < end; i++) {
      Subscriber subscriber = to[i];
      try {
        subscriber.onPage(page);
      } catch (Throwable e) {
        // An Error too: one broken subscriber must neither end the feed for everyone nor stay subscribed deaf.
        log.error("A subscriber failed on a page; it is dropped", e);
        subscribers.remove(subscriber);
        failed.put(subscriber, e);
      }
    }
  }

  private static void dropped(Subscriber subscriber, Throwable cause) {
    try {
      subscriber.onDropped(cause);
    } catch (Throwable e) {
      log.error("A dropped subscriber failed to close", e);
    }
  }

  /** The history fingerprint at {@code position} (see {@link Cursor}), read on the feed's own connection. */
  private long anchorAt(Position position) {
    return position.txId() == Long.MIN_VALUE ? Cursor.NO_ANCHOR : store.anchorAt(position).orElse(Cursor.NO_ANCHOR);
  }

  /** How many changes this reader delivered degraded (see {@link SyncStore#degradedChanges}). */
  public long degradedChanges() {
    return store.degradedChanges();
  }

  /**
   * Whether the reader is alive and has completed a read within {@code maxSilence} (it reads at least once per
   * poll interval, so a longer silence means it is stuck or keeps failing).
   */
  public boolean isHealthy(Duration maxSilence) {
    return running && thread != null && thread.isAlive() && System.nanoTime() - lastReadNanos < maxSilence.toNanos();
  }

  /** Listens for other nodes' NOTIFY on a dedicated connection and wakes the reader on each. */
  private void listen() {
    while (running) {
      try {
        if (listenConnection == null) {
          try {
            listenConnection = connections.open();
            try (Statement statement = listenConnection.createStatement()) {
              statement.execute("LISTEN " + CHANNEL);
            }
          } catch (SQLException | RuntimeException e) {
            if (!listenTried) {
              startFailures.add("LISTEN: " + e.getMessage());  // before the count-down the start-up waits for
            }
            throw e;
          } finally {
            if (!listenTried) {
              listenTried = true;
              connectionsTried.countDown();
            }
          }
        }
        var notifications = listenConnection.unwrap(PGConnection.class).getNotifications(200);
        if (notifications != null && notifications.length > 0) {
          wake();
        }
      } catch (SQLException e) {
        if (running) {
          log.debug("LISTEN connection lost ({}); polling until it is back", e.toString());
        }
        closeListenConnection();
        sleep(pollInterval);
      }
    }
  }

  /**
   * Sends one NOTIFY for however many commits were signalled since the last one, then pauses for the interval. Its
   * own autocommit connection: the notification lock it takes at commit is held by this one tiny transaction, never
   * by a transaction that writes data.
   */
  private void sendNotifications() {
    if (notifyAtStart) {
      openNotifyConnection();
    } else {
      connectionsTried.countDown();
    }
    while (running) {
      try {
        notifyRequests.acquire();
        notifyRequests.drainPermits();
        try {
          notifyOnce();
        } catch (SQLException first) {
          // The connection may have died while idle (idle_session_timeout, a failover, a proxy cutting idle
          // connections): once more on a fresh one, so that this commit is still announced; an extra empty NOTIFY
          // is harmless.
          closeQuietly(notifyConnection);
          notifyConnection = null;
          notifyOnce();
        }
        Thread.sleep(NOTIFY_INTERVAL);
      } catch (InterruptedException e) {
        return;  // closing
      } catch (SQLException e) {
        if (running) {
          log.debug("NOTIFY failed ({}); other nodes will find the changes by polling", e.toString());
        }
        closeQuietly(notifyConnection);
        notifyConnection = null;
        sleep(pollInterval);
      }
    }
  }

  private void notifyOnce() throws SQLException {
    if (notifyConnection == null) {
      notifyConnection = connections.open();
      notifyConnection.setAutoCommit(true);
    }
    try (Statement statement = notifyConnection.createStatement()) {
      statement.execute(NOTIFY_STATEMENT);
    }
  }

  /**
   * At start, before any commit: opens the NOTIFY connection and runs the NOTIFY statement once in a transaction
   * that is rolled back (PostgreSQL sends a transaction's notifications only when it commits, so no listener hears
   * it). Opening it at the first commit put a connection's set-up (PgJDBC's handshake, its classes loaded and run
   * interpreted) into the first round of live traffic after a start (docs/performance.md, "Seventh pass: the first
   * round and the storm"). A failure leaves it to the first commit, as before.
   */
  private void openNotifyConnection() {
    try {
      Connection connection = connections.open();
      try {
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
          statement.execute(NOTIFY_STATEMENT);
        }
        connection.rollback();
        connection.setAutoCommit(true);
        notifyConnection = connection;
      } catch (SQLException | RuntimeException e) {
        closeQuietly(connection);
        throw e;
      }
    } catch (SQLException | RuntimeException e) {
      if (running) {
        log.debug("Opening the NOTIFY connection at start failed ({}); the first commit opens it", e.toString());
      }
      startFailures.add("NOTIFY: " + e.getMessage());
    } finally {
      connectionsTried.countDown();
    }
  }

  /**
   * Waits until the feed's own connections (LISTEN, NOTIFY) have been opened, or their first attempt failed, at
   * most {@code timeout}; the server waits for this before it answers SERVING.
   *
   * @return whether both attempts were made in time
   */
  public boolean awaitConnections(Duration timeout) throws InterruptedException {
    return connectionsTried.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Why the start-up open of the LISTEN or NOTIFY connection failed, one entry each; empty when both opened. */
  public List<String> connectionFailuresAtStart() {
    return List.copyOf(startFailures);
  }

  private static void closeQuietly(Connection connection) {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException ignored) {
        // already broken
      }
    }
  }

  private void closeListenConnection() {
    closeQuietly(listenConnection);
    listenConnection = null;
  }

  private static void sleep(Duration duration) {
    try {
      Thread.sleep(duration);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the reader thread. */
  @Override
  public void close() {
    running = false;
    List<Thread> threads = thread == null ? List.of() : List.of(thread, listener, notifier);
    for (Thread t : threads) {
      t.interrupt();
    }
    try {
      for (Thread t : threads) {
        t.join(Duration.ofSeconds(5));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (fanOutPool != null) {
      fanOutPool.shutdown();
    }
    closeListenConnection();
    closeQuietly(notifyConnection);
  }
}

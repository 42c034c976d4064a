package io.deltasync.server.stream;

import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** The open Sync sessions of a server: opens them, ticks their heartbeats, ends them at shutdown. */
public final class SyncSessions implements AutoCloseable {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(SyncSessions.class);
  private final SessionSettings settings;
  private final WriteService writes;
  private final ChangeFeed changeFeed;
  private final LiveFeed liveFeed;
  private final Set<SyncSession> sessions = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().name("deltasync-heartbeats").daemon().factory());
  private final ClientStreams clientStreams;
  private volatile boolean accepting = true;
  private volatile io.deltasync.server.admission.HelloAdmission hellos =
      io.deltasync.server.admission.HelloAdmission.NONE;

  private final io.deltasync.server.auth.Authenticator authenticator;

  /** Creates the registry and starts the heartbeat timer; {@code authenticator} verifies refreshed tokens. */
  public SyncSessions(SessionSettings settings, WriteService writes, ChangeFeed changeFeed, LiveFeed liveFeed,
      io.deltasync.server.auth.Authenticator authenticator) {
    this.authenticator = authenticator;
    this.settings = settings;
    this.writes = writes;
    this.changeFeed = changeFeed;
    this.liveFeed = liveFeed;
    this.clientStreams = new ClientStreams(settings.maxStreamsPerClient());
    for (SyncSession.State state : SyncSession.State.values()) {
      if (state != SyncSession.State.CLOSED) {
        settings.telemetry().gauge("deltasync.sessions", "Open Sync streams on this node, by phase", this,
            s -> s.stats().stream().filter(one -> one.state() == state).count(),
            "phase", state.name().toLowerCase(java.util.Locale.ROOT));
      }
    }
    settings.telemetry().gauge("deltasync.stream.queued.changes", "Changes buffered for clients, all streams", this,
        s -> s.stats().stream().mapToLong(SyncSession.Stats::queuedChanges).sum());
    settings.telemetry().gauge("deltasync.stream.queued.changes.max", "The most changes buffered for one stream now",
        this, s -> s.stats().stream().mapToLong(SyncSession.Stats::queuedChanges).max().orElse(0));
    long period = settings.heartbeatInterval().toMillis();
    // A periodic task that throws is never run again: one session's failure must not stop every heartbeat.
    heartbeats.scheduleAtFixedRate(() -> sessions.forEach(SyncSessions::tickSafely), period, period,
        TimeUnit.MILLISECONDS);
    // Credentials are checked every second, whatever the heartbeat interval: the expiry warning must arrive before
    // the expiry (a warning shorter than the interval would otherwise be missed) and an expired stream must end.
    heartbeats.scheduleAtFixedRate(() -> sessions.forEach(SyncSessions::checkCredentialSafely), 1, 1,
        TimeUnit.SECONDS);
  }

  /** Puts {@code admission} in front of every hello (default: {@code HelloAdmission.NONE}). */
  public void admitHellosWith(io.deltasync.server.admission.HelloAdmission admission) {
    this.hellos = java.util.Objects.requireNonNull(admission, "admission");
  }

  private static void checkCredentialSafely(SyncSession session) {
    try {
      session.checkCredential();
    } catch (Throwable e) {
      log.error("Credential check of a Sync session failed; ending that session", e);
      session.onDropped(e);
    }
  }

  private static void tickSafely(SyncSession session) {
    try {
      session.tick();
    } catch (Throwable e) {
      log.error("Heartbeat of a Sync session failed; ending that session", e);
      session.onDropped(e);
    }
  }

  /** Opens a session on a new stream; the returned observer receives the client's messages. */
  /** Opens a session for {@code principal} on a new stream; the returned observer receives its messages. */
  public StreamObserver<SyncRequest> open(StreamObserver<SyncResponse> responses,
      io.deltasync.server.auth.Principal principal) {
    ServerCallStreamObserver<SyncResponse> out = (ServerCallStreamObserver<SyncResponse>) responses;
    SyncSession[] self = new SyncSession[1];
    var span = settings.telemetry().sessionStarted();
    SyncSession session = new SyncSession(out, settings, writes, changeFeed, liveFeed, clientStreams,
        new StreamCredential(principal, authenticator, authenticator.settings().expiryWarning(),
            java.time.Clock.systemUTC()), hellos, () -> {
          sessions.remove(self[0]);
          SyncSession.Stats stats = self[0].stats();
          settings.telemetry().sessionEnded(span, stats.clientId(), stats.state().name(), stats.fallbacks());
        });
    self[0] = session;
    sessions.add(session);
    if (!accepting) {
      session.endForShutdown();
    }
    return session;
  }

  /**
   * Opens a session for a WatchChanges call: the request stands for the hello, and the server half of the Sync
   * protocol follows (docs/http.md).
   */
  public void watch(io.deltasync.v1.WatchChangesRequest request,
      StreamObserver<io.deltasync.v1.WatchChangesResponse> responses, io.deltasync.server.auth.Principal principal) {
    WatchStream.start(request, responses, out -> open(out, principal), heartbeats, settings.heartbeatInterval());
  }

  /** The counters of every open session. */
  public List<SyncSession.Stats> stats() {
    return sessions.stream().map(SyncSession::stats).toList();
  }

  /** Ends every session with UNAVAILABLE ("reconnect"), so clients move to another node. */
  public void endAll() {
    accepting = false;
    sessions.forEach(SyncSession::endForShutdown);
  }

  /**
   * Ends every session open now because the database went back in time; new sessions are still accepted. Only the
   * sessions open when the reset is known: walking the live set could reach one opened during the walk, already in
   * the new epoch, and end it before its welcome (EpochAdoptionIT).
   */
  public void endAllForHistoryReset() {
    List.copyOf(sessions).forEach(SyncSession::endForHistoryReset);
  }

  @Override
  public void close() {
    endAll();
    heartbeats.shutdownNow();
  }
}

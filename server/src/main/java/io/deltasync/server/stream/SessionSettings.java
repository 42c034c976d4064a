package io.deltasync.server.stream;

import io.deltasync.v1.Limits;
import io.deltasync.v1.RetryPolicy;
import java.time.Duration;

/**
 * What every session of a server shares.
 *
 * @param pageSize changes (or entities) per read and per SyncChanges message
 * @param maxQueuedChanges the most changes a session buffers for its client; past that it stops taking live pages
 *     and catches up from the change log at the client's pace instead
 * @param heartbeatInterval how often the server sends a heartbeat; three silent intervals end a stream
 * @param limits what the welcome tells clients about limits
 * @param retryPolicy what the welcome tells clients about retrying
 * @param maxQueuedBytes the most bytes of changes a session buffers; past that it catches up instead, like
 *     {@code maxQueuedChanges}
 * @param stallTimeout how long a session's transport may stay not ready with something to send before the stream
 *     is ended with RECONNECT
 * @param maxStreamsPerClient the most streams open at once for one client id
 * @param telemetry where sessions count what they send, their fallbacks and their pushes
 * @param pageBytes the most bytes of changes in one page the stream sends (initial state, catch-up, live), already
 *     capped to fit one message; a single larger change goes alone
 */
public record SessionSettings(int pageSize, int maxQueuedChanges, Duration heartbeatInterval, Limits limits,
    RetryPolicy retryPolicy, long maxQueuedBytes, Duration stallTimeout, int maxStreamsPerClient,
    io.deltasync.server.telemetry.SyncTelemetry telemetry, long pageBytes) {}

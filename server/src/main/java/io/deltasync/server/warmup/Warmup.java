package io.deltasync.server.warmup;

import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import com.google.protobuf.Value;
import io.deltasync.server.ScaleConfig;
import io.deltasync.server.changefeed.ChangeFeed;
import io.deltasync.server.changefeed.LiveFeed;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.wire.SharedResponses;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the paths that matter for the first clients after a start (a push, change-log reads, the message of a live
 * page and its serialization through the Sync method's marshaller) a few thousand times before health answers
 * SERVING, so that the JIT has compiled them. Off by default ({@code DELTASYNC_WARMUP}): on a quiet machine it did
 * not reliably lower the first round's p99, and on a fresh database its rolled-back writes slowed the first minute
 * of writes (docs/performance.md, "After the merge, on a quiet machine").
 *
 * <p>Nothing of it is visible: pushes run on {@link RollbackOnlyDataSource} connections (every transaction rolled
 * back: no entity, no change-log row, no idempotency record), through a write service of its own (no metrics, no
 * wake-up of the live feed); reads only read; messages go to a sink. Bounded by {@link ScaleConfig#warmupMaxDuration}.
 */
public final class Warmup {
  private static final Logger log = LoggerFactory.getLogger(Warmup.class);
  /** The scope the warm-up writes to (rolled back) and reads from; no client can see it. */
  public static final String SCOPE = "deltasync-warmup";
  private static final String CLIENT_ID = "deltasync-warmup";
  private static final int DELTAS_PER_PUSH = 8;
  private static final int PAGE_CHANGES = 20;
  /** How many streams' worth of messages each round builds and serializes. */
  private static final int STREAMS_PER_ROUND = 8;

  /** Pushes deltas through a write service (the real one's code, on the store it is given). */
  @FunctionalInterface
  public interface Writes {
    /** Applies {@code deltas} as client {@code clientId} would push them. */
    List<DeltaResult> push(String clientId, List<Delta> deltas);
  }

  /**
   * What the warm-up did.
   *
   * @param rounds the rounds completed
   * @param pushes the pushes run (each rolled back)
   * @param applied how many of their deltas were applied (then rolled back)
   * @param messages the messages serialized
   * @param elapsed how long it took
   * @param stoppedByDeadline whether the time bound ended it before its rounds were done
   */
  public record Result(int rounds, int pushes, int applied, long messages, Duration elapsed, boolean stoppedByDeadline) {
    /** Nothing was run. */
    public static final Result NONE = new Result(0, 0, 0, 0, Duration.ZERO, false);
  }

  private Warmup() {}

  /**
   * The data source every warm-up write goes through: {@code pool}'s connections, never committing.
   */
  public static DataSource rollbackOnly(DataSource pool) {
    return new RollbackOnlyDataSource(pool);
  }

  /**
   * Runs the warm-up as configured; never throws (a failing warm-up only leaves the code colder).
   *
   * @param writes a write service over a store on {@link #rollbackOnly} connections, with no commit callback
   * @param dsl jOOQ over the pool (read-only use)
   * @param changeFeed the server's change feed (read-only use)
   * @param maxMessageBytes the message limit of the server's stores
   */
  public static Result run(ScaleConfig config, Writes writes, DSLContext dsl, ChangeFeed changeFeed,
      int maxMessageBytes) {
    if (!config.warmupEnabled() || config.warmupIterations() == 0 || config.warmupMaxDuration().isZero()) {
      return Result.NONE;
    }
    long start = System.nanoTime();
    long deadline = start + config.warmupMaxDuration().toNanos();
    MethodDescriptor.Marshaller<SyncResponse> marshaller = SharedResponses.marshaller(
        SyncServiceGrpc.getSyncMethod().getResponseMarshaller());
    int rounds = 0;
    int pushes = 0;
    int applied = 0;
    long messages = 0;
    boolean stopped = false;
    try {
      ChangeFilter scope = ChangeFilter.of(List.of(), List.of(SCOPE));
      // Reads through a store of its own: the server's counters (degraded changes) are not touched.
      SyncStore reader = new SyncStore(dsl, maxMessageBytes);
      Position visible = changeFeed.visible();
      for (; rounds < config.warmupIterations(); rounds++) {
        if (System.nanoTime() - deadline > 0) {
          stopped = true;
          break;
        }
        List<Entity> written = push(writes, rounds);
        pushes += 2;
        applied += written.size();
        reader.readChanges(visible, PAGE_CHANGES, scope);
        changeFeed.initialState(scope, null, PAGE_CHANGES);
        messages += serializePage(written, rounds, marshaller);
      }
    } catch (RuntimeException e) {
      log.warn("Warm-up stopped after {} rounds: {}", rounds, e.toString());
    }
    Result result = new Result(rounds, pushes, applied, messages, Duration.ofNanos(System.nanoTime() - start), stopped);
    log.info("Warm-up: {} rounds ({} rolled-back pushes, {} messages serialized) in {} ms{}", result.rounds(),
        result.pushes(), result.messages(), result.elapsed().toMillis(),
        stopped ? " (stopped by DELTASYNC_WARMUP_MAX_MILLIS)" : "");
    return result;
  }

  /** Creates, then updates of what the creates returned: each push in its own transaction, rolled back. */
  private static List<Entity> push(Writes writes, int round) {
    List<Delta> creates = new ArrayList<>(DELTAS_PER_PUSH);
    for (int i = 0; i < DELTAS_PER_PUSH; i++) {
      creates.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("warmup")
          .setEntityId("w" + round + "-" + i).setScope(SCOPE).setOperation(Operation.OPERATION_CREATE)
          .setData(document(round, i)).build());
    }
    List<Entity> written = new ArrayList<>();
    for (DeltaResult result : writes.push(CLIENT_ID, creates)) {
      if (result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
        written.add(result.getEntity());
      }
    }
    // The creates were rolled back: these updates take the path of an update whose entity is missing, and the
    // validation and conflict-policy code of every update.
    List<Delta> updates = new ArrayList<>(DELTAS_PER_PUSH);
    for (int i = 0; i < DELTAS_PER_PUSH; i++) {
      updates.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("warmup")
          .setEntityId("w" + round + "-" + i).setScope(SCOPE).setOperation(Operation.OPERATION_UPDATE)
          .setBaseRowVersion(1).setData(document(round + 1, i)).build());
    }
    writes.push(CLIENT_ID, updates);
    return written;
  }

  private static Struct document(int round, int i) {
    return Struct.newBuilder()
        .putFields("title", Value.newBuilder().setStringValue("warm-up " + round + "/" + i).build())
        .putFields("body", Value.newBuilder().setStringValue("a small document of the start-up warm-up").build())
        .putFields("n", Value.newBuilder().setNumberValue(round).build())
        .build();
  }

  /**
   * A live page as the feed builds it, its shared message built as streams build it, and serialized through the
   * Sync method's marshaller for several streams, to a sink.
   */
  private static long serializePage(List<Entity> written, int round, MethodDescriptor.Marshaller<SyncResponse>
      marshaller) {
    List<ChangePage.Positioned> entries = new ArrayList<>(PAGE_CHANGES);
    long now = System.currentTimeMillis();
    for (int i = 0; i < PAGE_CHANGES; i++) {
      Entity entity = written.isEmpty()
          ? Entity.newBuilder().setScope(SCOPE).setEntityType("warmup").setEntityId("w" + round + "-" + i)
              .setRowVersion(1).setData(document(round, i))
              .setLastModifiedAt(Timestamp.newBuilder().setSeconds(now / 1000)).build()
          : written.get(i % written.size());
      entries.add(new ChangePage.Positioned(new Position(round, i), Change.newBuilder().setEntity(entity)
          .setClientId(CLIENT_ID).setDeltaId("d" + i).setCursor("warmup-" + round + "-" + i).build()));
    }
    LiveFeed.Page page = new LiveFeed.Page(new Position(round, -1), new Position(round, PAGE_CHANGES),
        entries, "warmup-" + round);
    long count = 0;
    for (int stream = 0; stream < STREAMS_PER_ROUND; stream++) {
      BitSet included = new BitSet(entries.size());
      ChangeFilter filter = ChangeFilter.of(List.of("warmup"), List.of(SCOPE));
      List<Change> changes = new ArrayList<>();
      for (int i = 0; i < entries.size(); i++) {
        Entity entity = entries.get(i).change().getEntity();
        // Every other stream leaves one change out, as a stream that wrote it does: its own message.
        if (filter.matches(entity.getScope(), entity.getEntityType()) && (stream % 2 == 0 || i != stream)) {
          included.set(i);
          changes.add(entries.get(i).change());
        }
      }
      Function<BitSet, SyncResponse> build = unused -> SharedResponses.share(SyncResponse.newBuilder()
          .setChanges(SyncChanges.newBuilder().addAllChanges(changes).setCursor(page.toCursor())
              .setPhase(SyncPhase.SYNC_PHASE_LIVE)).build());
      SyncResponse message = page.message(included, build);
      try (InputStream bytes = marshaller.stream(message)) {
        bytes.transferTo(OutputStream.nullOutputStream());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      count++;
    }
    return count;
  }
}

package io.deltasync.server.write;

import io.deltasync.server.store.EntityKey;
import io.deltasync.server.store.WriteTransaction.PlainKind;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * How a batch is cut for set-based writing: which deltas are plain, and where a run of deltas that can share one
 * set-based statement ends.
 */
final class PlainRuns {
  /** Room reserved per result beyond the delta's own size (key, version, etag, timestamps, framing). */
  private static final int RESULT_OVERHEAD_BYTES = 512;

  private PlainRuns() {}

  /**
   * The delta's plain write, if it is one: no edits, and a create without a base (a create with a base is a
   * recreation over a tombstone, which the per-delta path handles), an update or a delete. Deltas with edits need
   * their base document and history; everything else about a plain delta — its conflict policy included — only
   * matters when its compare-and-set misses, and then it goes through the per-delta path anyway.
   */
  static Optional<PlainKind> kind(WriteService.Prepared one) {
    if (one.rejection() != null || !one.edits().isEmpty()) {
      return Optional.empty();
    }
    return switch (one.delta().getOperation()) {
      case OPERATION_CREATE -> one.valid().base().isEmpty() ? Optional.of(PlainKind.CREATE) : Optional.empty();
      case OPERATION_UPDATE -> Optional.of(PlainKind.UPDATE);
      case OPERATION_DELETE -> Optional.of(PlainKind.DELETE);
      default -> Optional.empty();
    };
  }

  /**
   * The end (exclusive) of the run that starts at {@code start}: it stops before the first valid delta whose entity
   * or delta id is already in the run. Within a run each entity is written by at most one delta, so the set-based
   * statement never meets its own rows and the batch order of each entity's deltas is kept by the order of runs; a
   * repeated delta id (a retry inside one batch) is answered from the first one's result in the next run.
   */
  static int runEnd(List<WriteService.Prepared> prepared, int start) {
    Set<EntityKey> keys = new HashSet<>();
    Set<String> deltaIds = new HashSet<>();
    int i = start;
    for (; i < prepared.size(); i++) {
      WriteService.Prepared one = prepared.get(i);
      if (one.rejection() != null) {
        continue;
      }
      if (!keys.add(one.valid().key()) || !deltaIds.add(one.delta().getDeltaId())) {
        break;
      }
    }
    return Math.max(i, start + 1);
  }

  /**
   * Whether the results of the batch's plain deltas, if all are applied, stay well inside the response budget. The
   * set-based statement applies a run's plain deltas before their results are counted, so a batch whose results
   * could pass the budget (where the remaining deltas are answered "not attempted") goes through the per-delta path,
   * which stops at the budget.
   */
  static boolean fitsResponse(List<WriteService.Prepared> prepared, long responseBudget) {
    long bytes = 0;
    for (WriteService.Prepared one : prepared) {
      if (one.rejection() == null) {
        bytes += one.delta().getSerializedSize() + RESULT_OVERHEAD_BYTES;
      }
    }
    return bytes <= responseBudget / 2;
  }
}

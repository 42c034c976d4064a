package io.deltasync.sdk;

import com.google.protobuf.Struct;
import com.google.protobuf.Timestamp;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.logging.Logger;

/**
 * The rules of the local copy, over any {@link LocalStore}: optimistic local writes with their outbox entry, push
 * results, incoming changes by {@code row_version}, resync. Each public method is one local transaction, so an app
 * killed at any point finds the copy, the outbox and the cursor consistent with each other.
 */
final class Replica {
  static final String CURSOR = "cursor";
  static final String CLIENT_ID = "client_id";
  private static final Logger LOG = Logger.getLogger(Replica.class.getName());

  private final LocalStore store;

  Replica(LocalStore store) {
    this.store = store;
  }

  /** The stable id of this installation, created on first use and kept in the store. */
  String clientId(String requested) {
    return store.inTransaction(tx -> {
      String stored = tx.setting(CLIENT_ID);
      if (stored != null) {
        if (requested != null && !requested.equals(stored)) {
          throw new IllegalArgumentException("clientId: " + requested + " (expected: " + stored
              + ", the id this store was created with)");
        }
        return stored;
      }
      String id = requested != null ? requested : UUID.randomUUID().toString();
      tx.putSetting(CLIENT_ID, id);
      return id;
    });
  }

  String cursor() {
    return store.inTransaction(tx -> {
      String cursor = tx.setting(CURSOR);
      return cursor == null ? "" : cursor;
    });
  }

  Optional<LocalEntity> get(EntityKey key) {
    return store.inTransaction(tx -> tx.entity(key).map(StoredEntity::visible));
  }

  /** The live entities the app sees, of a type in a scope (null: any). */
  List<LocalEntity> query(String entityType, String scope) {
    return store.inTransaction(tx -> {
      List<LocalEntity> found = new ArrayList<>();
      for (StoredEntity row : tx.entities(entityType, scope)) {
        LocalEntity visible = row.visible();
        if (!visible.deleted()) {
          found.add(visible);
        }
      }
      return found;
    });
  }

  int pendingCount() {
    return store.inTransaction(LocalStore.Tx::outboxSize);
  }

  List<OutboxEntry> outbox() {
    return store.inTransaction(LocalStore.Tx::outbox);
  }

  /**
   * Applies a local write to the local copy at once and appends its delta to the outbox, in one transaction. The
   * delta's base is the server version the app saw; a write behind another pending write of the same entity is
   * "chained": its base is fixed from that write's result.
   */
  LocalEntity write(EntityKey key, Operation operation, Struct data, ConflictPolicy policy, Instant modifiedAt) {
    return write(key, operation, data, List.of(), policy, modifiedAt);
  }

  /**
   * Applies text, array and object edits to the document the app sees at once and queues them as one delta with {@code edits}, merged
   * by operational transform on the server if the entity moved meanwhile (docs/protocol.md, "Operational transform:
   * edits in flight"). IllegalArgumentException, and nothing written, when they do not fit the document.
   */
  LocalEntity edit(EntityKey key, List<EditOperation> edits, Instant modifiedAt) {
    if (edits.isEmpty()) {
      throw new IllegalArgumentException("edits: 0 (expected: at least 1)");
    }
    return store.inTransaction(tx -> {
      LocalEntity visible = tx.entity(key).map(StoredEntity::visible).filter(e -> !e.deleted())
          .orElseThrow(() -> new IllegalStateException("edit " + key + ": no such entity (expected: create)"));
      Struct edited = DocumentEdits.apply(visible.data(), edits);
      return write(tx, key, Operation.OPERATION_UPDATE, edited, edits,
          ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM, modifiedAt);
    });
  }

  private LocalEntity write(EntityKey key, Operation operation, Struct data, List<EditOperation> edits,
      ConflictPolicy policy, Instant modifiedAt) {
    return store.inTransaction(tx -> write(tx, key, operation, data, edits, policy, modifiedAt));
  }

  private static LocalEntity write(LocalStore.Tx tx, EntityKey key, Operation operation, Struct data,
      List<EditOperation> edits, ConflictPolicy policy, Instant modifiedAt) {
    {
      Optional<StoredEntity> row = tx.entity(key);
      boolean visibleLive = row.isPresent() && !row.get().visible().deleted();
      if (operation == Operation.OPERATION_CREATE && visibleLive) {
        throw new IllegalStateException("create " + key + ": the entity exists (expected: update)");
      }
      if (operation != Operation.OPERATION_CREATE && !visibleLive) {
        throw new IllegalStateException(operation + " " + key + ": no such entity (expected: create)");
      }
      boolean chained = !tx.pendingFor(key).isEmpty();
      Entity server = row.map(StoredEntity::server).orElse(null);
      long base = chained || server == null ? 0 : server.getRowVersion();
      if (operation == Operation.OPERATION_CREATE && server != null && !server.getIsDeleted()) {
        base = 0;
      }
      Delta.Builder delta = Delta.newBuilder()
          .setDeltaId(UUID.randomUUID().toString())
          .setScope(key.scope())
          .setEntityType(key.entityType())
          .setEntityId(key.entityId())
          .setOperation(operation)
          .setBaseRowVersion(base)
          .setClientModifiedAt(Timestamp.newBuilder()
              .setSeconds(modifiedAt.getEpochSecond()).setNanos(modifiedAt.getNano() / 1000 * 1000))
          .setConflictPolicy(policy);
      if (!edits.isEmpty()) {
        delta.addAllEdits(edits);
      } else if (operation != Operation.OPERATION_DELETE) {
        delta.setData(data);
      }
      tx.append(new OutboxEntry(0, delta.build(), chained, false, 0));
      boolean deleted = operation == Operation.OPERATION_DELETE;
      StoredEntity written = new StoredEntity(key, server, deleted ? null : data, deleted, true);
      tx.putEntity(written);
      return written.visible();
    }
  }

  /**
   * The next deltas to push: the oldest pending delta of each entity (one in flight per entity, so a later write
   * of an entity is based on the result of the earlier one), those {@code ready} accepts, at most {@code max}. They
   * are marked sent before they leave: from then on their content never changes.
   */
  List<OutboxEntry> nextBatch(int max, Predicate<OutboxEntry> ready) {
    return store.inTransaction(tx -> {
      Set<EntityKey> seen = new HashSet<>();
      List<OutboxEntry> batch = new ArrayList<>();
      for (OutboxEntry entry : tx.outbox()) {
        if (batch.size() >= max) {
          break;
        }
        if (!seen.add(entry.key()) || !ready.test(entry)) {
          continue;
        }
        OutboxEntry head = entry;
        if (head.chained()) {
          // The head of an entity's queue is never chained (results unchain the next one); repair defensively.
          long base = tx.entity(head.key()).map(StoredEntity::serverVersion).orElse(0L);
          head = new OutboxEntry(head.seq(), head.delta().toBuilder().setBaseRowVersion(base).build(), false,
              head.sent(), head.attempts());
        }
        if (!head.sent() || head != entry) {
          head = new OutboxEntry(head.seq(), head.delta(), false, true, head.attempts());
          tx.replace(head);
        }
        batch.add(head);
      }
      return batch;
    });
  }

  /** What a push result did, for the app's listeners. */
  record Outcome(OutboxEntry entry, DeltaResult result, Kind kind, LocalEntity entity) {
    enum Kind { APPLIED, CONFLICT, REJECTED, RETRY }
  }

  /**
   * Applies the results of one push to the local copy and the outbox, in one transaction: an applied or
   * conflicting delta leaves the outbox and the server's entity becomes the local copy's base; a rejected one leaves
   * the outbox with its error (never blocking the deltas behind it); a "not now" answer keeps it, to be sent again
   * with the same delta id. The writes chained behind a delta follow {@link ChainedWrites}. Results are matched by
   * delta id; one for a delta this push did not carry is ignored, and a sent delta left without a result (or with a
   * status this SDK does not know) stays in the outbox as if answered "not now".
   */
  List<Outcome> applyResults(List<OutboxEntry> sent, List<DeltaResult> results) {
    // Matched by delta id, not by position: a result for a delta we did not send (a hostile or broken server) is
    // ignored, and a sent delta without a result stays in the outbox to go again with the same id.
    Map<String, DeltaResult> byId = new HashMap<>();
    Set<String> sentIds = new HashSet<>();
    sent.forEach(entry -> sentIds.add(entry.deltaId()));
    for (DeltaResult result : results) {
      if (!sentIds.contains(result.getDeltaId())) {
        LOG.warning("a push result for delta " + result.getDeltaId() + ", which this push did not carry; ignored");
      } else if (byId.putIfAbsent(result.getDeltaId(), result) != null) {
        LOG.warning("a second push result for delta " + result.getDeltaId() + "; ignored");
      }
    }
    return store.inTransaction(tx -> {
      List<Outcome> outcomes = new ArrayList<>();
      for (OutboxEntry entry : sent) {
        DeltaResult result = byId.get(entry.deltaId());
        if (result == null) {
          result = DeltaResult.newBuilder().setDeltaId(entry.deltaId()).setStatus(DeltaStatus.DELTA_STATUS_REJECTED)
              .setError(com.google.rpc.Status.newBuilder().setCode(Status.Code.UNAVAILABLE.value())
                  .setMessage("the server's results did not include this delta; sent again"))
              .build();
        }
        applyResult(tx, entry, result, outcomes);
      }
      return outcomes;
    });
  }

  private static void applyResult(LocalStore.Tx tx, OutboxEntry entry, DeltaResult result, List<Outcome> outcomes) {
    EntityKey key = entry.key();
    if (tx.pendingFor(key).stream().noneMatch(e -> e.deltaId().equals(entry.deltaId()))) {
      return; // already answered (a result for it came twice): nothing is left to do
    }
    boolean unknownStatus = switch (result.getStatus()) {
      case DELTA_STATUS_APPLIED, DELTA_STATUS_CONFLICT, DELTA_STATUS_REJECTED -> false;
      default -> true;
    };
    if (unknownStatus) {
      // A status this SDK does not know (a newer server): never take it as a verdict that could drop the write.
      LOG.warning("delta " + entry.deltaId() + ": unknown result status " + result.getStatusValue()
          + "; kept, sent again later");
    }
    boolean gaveUpWaiting = isNotFound(result) && entry.attempts() + 1 >= NOT_FOUND_ATTEMPTS;
    if (unknownStatus || (isRetryable(result) && !gaveUpWaiting)) {
      OutboxEntry again = new OutboxEntry(entry.seq(), entry.delta(), false, true, entry.attempts() + 1);
      tx.replace(again);
      outcomes.add(new Outcome(again, result, Outcome.Kind.RETRY,
          tx.entity(key).map(StoredEntity::visible).orElse(null)));
      return;
    }
    if (result.hasEntity() && !EntityKey.of(result.getEntity()).equals(key)) {
      LOG.warning("delta " + entry.deltaId() + ": the result's entity is " + EntityKey.of(result.getEntity())
          + ", not " + key + "; its entity is ignored");
      result = result.toBuilder().clearEntity().build();
    }
    Outcome.Kind kind = switch (result.getStatus()) {
      case DELTA_STATUS_APPLIED -> Outcome.Kind.APPLIED;
      case DELTA_STATUS_CONFLICT -> Outcome.Kind.CONFLICT;
      default -> Outcome.Kind.REJECTED;
    };
    tx.remove(entry.deltaId());
    StoredEntity row = tx.entity(key).orElse(new StoredEntity(key, null, null, false, false));
    if (result.hasEntity() && result.getEntity().getRowVersion() >= row.serverVersion()) {
      row = row.withServer(result.getEntity());
    }
    boolean kept = ChainedWrites.keptClientData(result);
    List<OutboxEntry> behind = tx.pendingFor(key);
    List<Outcome> lost = new ArrayList<>();
    if (!behind.isEmpty() && behind.get(0).chained()) {
      if (kept) {
        // The next write of the entity was made on top of this one, which the server took as it was: it is based on
        // the version this one produced.
        OutboxEntry next = behind.get(0);
        tx.replace(new OutboxEntry(next.seq(), next.delta().toBuilder()
            .setBaseRowVersion(result.getEntity().getRowVersion()).build(), false, next.sent(), next.attempts()));
      } else {
        ChainedWrites.Followed followed = ChainedWrites.followConflict(entry, result, behind,
            row.hasLocal() || row.server() != null ? row.visible() : null);
        followed.rewritten().forEach(tx::replace);
        followed.dropped().forEach(e -> tx.remove(e.deltaId()));
        for (ChainedWrites.Lost gone : followed.lost()) {
          tx.remove(gone.entry().deltaId());
          lost.add(new Outcome(gone.entry(), notSent(gone, result), Outcome.Kind.CONFLICT, null));
        }
      }
      behind = tx.pendingFor(key);
    }
    if (behind.isEmpty()) {
      row = row.withoutLocal();
    } else if (kept && result.getRebaseEditsCount() > 0) {
      row = rebase(tx, row, result);
    }
    LocalEntity visible = null;
    if (row.server() == null && !row.hasLocal()) {
      tx.removeEntity(key);
    } else {
      tx.putEntity(row);
      visible = row.visible();
    }
    outcomes.add(new Outcome(entry, result, kind, visible));
    outcomes.addAll(lost);
  }

  /**
   * The verdict reported for a chained write that leaves the outbox unsent: a conflict of its own (its own delta id,
   * no resolution and no conflict id: no policy decided it), with the server's entity and the reason.
   */
  private static DeltaResult notSent(ChainedWrites.Lost gone, DeltaResult headResult) {
    DeltaResult.Builder verdict = DeltaResult.newBuilder().setDeltaId(gone.entry().deltaId())
        .setStatus(DeltaStatus.DELTA_STATUS_CONFLICT)
        .setError(com.google.rpc.Status.newBuilder().setCode(Status.Code.ABORTED.value())
            .setMessage(gone.reason()));
    if (headResult.hasEntity()) {
      verdict.setEntity(headResult.getEntity());
    }
    return verdict.build();
  }

  /**
   * The delta in flight was merged by operational transform: the server's document is ours plus {@code rebase_edits}.
   * The pending edits behind it (text, array and object edits alike) were made on our document, so they are
   * transformed past {@code rebase_edits} (docs/protocol.md, "edits in flight", step 4), and the app sees them on
   * the server's document. A delta whose edits all vanish in the transform (it moved an element someone removed, it
   * unset a key someone unset too) is dropped, and the one behind it takes its base. When edits cannot be transformed
   * at all (they cannot have been made on the server's document), the first such delta becomes a whole-document
   * update of what the app sees and the ones behind it, already part of that document, are dropped.
   */
  private static StoredEntity rebase(LocalStore.Tx tx, StoredEntity row, DeltaResult result) {
    List<OutboxEntry> queue = tx.pendingFor(row.key()); // as updated above (the first one unchained)
    List<OutboxEntry> rewritten = new ArrayList<>();
    List<String> dropped = new ArrayList<>();
    List<EditOperation> applied = result.getRebaseEditsList();
    Struct document = result.getEntity().getData();
    OutboxEntry unchainedDropped = null; // an unchained delta dropped: the next kept one inherits its base
    try {
      for (int i = 0; i < queue.size(); i++) {
        OutboxEntry next = queue.get(i);
        if (unchainedDropped != null) {
          next = new OutboxEntry(next.seq(), next.delta().toBuilder()
              .setBaseRowVersion(unchainedDropped.delta().getBaseRowVersion()).build(), false, next.sent(),
              next.attempts());
          unchainedDropped = null;
        }
        if (next.delta().getEditsCount() == 0) {
          if (next != queue.get(i)) {
            rewritten.add(next);
          }
          document = null; // a whole-document write: what follows is based on it, not on the merged document
          break;
        }
        Optional<DocumentEdits.Transformed> moved = DocumentEdits.transform(next.delta().getEditsList(), applied);
        if (moved.isPresent() && moved.get().pending().isEmpty()) {
          // Nothing of it is left to send: a delta with neither edits nor data would be an empty update.
          dropped.add(next.deltaId());
          if (!next.chained()) {
            unchainedDropped = next;
          }
          applied = moved.get().applied();
          continue;
        }
        if (moved.isEmpty()) {
          Delta whole = next.delta().toBuilder().clearEdits().setData(row.localData())
              .setConflictPolicy(ConflictPolicy.CONFLICT_POLICY_UNSPECIFIED).build();
          rewritten.add(new OutboxEntry(next.seq(), whole, next.chained(), next.sent(), next.attempts()));
          queue.subList(i + 1, queue.size()).forEach(later -> dropped.add(later.deltaId()));
          document = null;
          break;
        }
        rewritten.add(new OutboxEntry(next.seq(), next.delta().toBuilder().clearEdits()
            .addAllEdits(moved.get().pending()).build(), next.chained(), next.sent(), next.attempts()));
        applied = moved.get().applied();
        document = DocumentEdits.apply(document, moved.get().pending());
      }
    } catch (IllegalArgumentException e) {
      // Our own transform produced an edit that does not fit: leave the queue as it is; the server validates each
      // delta and reports one that does not fit as rejected, never blocking the others.
      return row;
    }
    rewritten.forEach(tx::replace);
    dropped.forEach(tx::remove);
    if (dropped.size() == queue.size()) {
      return row.withoutLocal(); // every pending edit vanished: what the app sees is the server's document
    }
    return document == null ? row : new StoredEntity(row.key(), row.server(), document, false, true);
  }

  /**
   * A result that only means "not now": the server did not apply the delta and did not record the answer, so the
   * same delta id is sent again later, with backoff (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED without a conflict,
   * CANCELLED, DEADLINE_EXCEEDED, and NOT_FOUND: docs/protocol.md, "an update or delete that overtook its create:
   * retry it after the create"; the server does not store it, so absent may only mean not yet).
   */
  /**
   * How many NOT_FOUND answers an update or delete gets before it is reported as rejected: NOT_FOUND means "not yet"
   * while its create may still be on its way (docs/protocol.md), but an entity that never comes (purged, or never
   * created) must not keep that entity's writes pending forever. With the default backoff (1 s doubling to 32 s)
   * ten answers span about five minutes.
   */
  static final int NOT_FOUND_ATTEMPTS = 10;

  private static boolean isNotFound(DeltaResult result) {
    return result.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED && result.hasError()
        && result.getError().getCode() == Status.Code.NOT_FOUND.value();
  }

  static boolean isRetryable(DeltaResult result) {
    if (result.getStatus() != DeltaStatus.DELTA_STATUS_REJECTED) {
      return false;
    }
    int code = result.getError().getCode();
    return code == Status.Code.UNAVAILABLE.value() || code == Status.Code.RESOURCE_EXHAUSTED.value()
        || code == Status.Code.ABORTED.value() || code == Status.Code.CANCELLED.value()
        || code == Status.Code.DEADLINE_EXCEEDED.value() || code == Status.Code.NOT_FOUND.value();
  }

  /**
   * Applies changes from the server and stores {@code cursor} (when not empty) in one transaction, idempotent by
   * {@code row_version}: a change whose version the copy already holds is skipped. Returns what the app now sees of
   * each entity that changed.
   */
  List<LocalEntity> applyChanges(List<Change> changes, String cursor) {
    return store.inTransaction(tx -> {
      List<LocalEntity> changed = new ArrayList<>();
      for (Change change : changes) {
        Entity incoming = change.getEntity();
        EntityKey key = EntityKey.of(incoming);
        StoredEntity row = tx.entity(key).orElse(new StoredEntity(key, null, null, false, false));
        if (incoming.getRowVersion() <= row.serverVersion()) {
          continue;
        }
        Entity server = incoming;
        if (change.hasDegraded()) {
          // No documents came: keep ours, but know the server's version (an update based on an older one meets
          // its conflict) and apply a delete.
          Entity.Builder kept = incoming.toBuilder();
          if (row.server() != null) {
            kept.setData(row.server().getData()).setConflictData(row.server().getConflictData());
          }
          server = kept.build();
        }
        StoredEntity updated = row.withServer(server);
        tx.putEntity(updated);
        changed.add(updated.visible());
      }
      if (!cursor.isEmpty()) {
        tx.putSetting(CURSOR, cursor);
      }
      return changed;
    });
  }

  /**
   * Forgets the server's state (a resync, or an initial state started again): rows without pending writes go, rows
   * with pending writes keep them, and the outbox stays as it is. The cursor becomes empty.
   */
  void resetServerState() {
    store.inTransaction(tx -> {
      for (StoredEntity row : tx.entities(null, null)) {
        if (row.hasLocal()) {
          tx.putEntity(row.withServer(null));
        } else {
          tx.removeEntity(row.key());
        }
      }
      tx.putSetting(CURSOR, "");
      return null;
    });
  }

  /** The checksum of the copy, as docs/protocol.md "Checksums" defines it. */
  record Checksum(long entityCount, String digest) {}

  /**
   * The checksum over the server state the copy holds for a scope: every live entity of the scope whose type
   * {@code types} accepts, sorted by type then id in UTF-8 byte order (the store's order).
   */
  Checksum checksum(String scope, Predicate<String> types) {
    return store.inTransaction(tx -> {
      MessageDigest sha;
      try {
        sha = MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
      List<StoredEntity> rows = new ArrayList<>(tx.entities(null, scope));
      rows.sort((a, b) -> {
        int byType = compareUtf8(a.key().entityType(), b.key().entityType());
        return byType != 0 ? byType : compareUtf8(a.key().entityId(), b.key().entityId());
      });
      long count = 0;
      for (StoredEntity row : rows) {
        Entity server = row.server();
        if (server == null || server.getIsDeleted() || !types.test(row.key().entityType())) {
          continue;
        }
        count++;
        String line = row.key().entityType() + '\u001f' + row.key().entityId() + '\u001f' + server.getRowVersion()
            + "\n";
        sha.update(line.getBytes(StandardCharsets.UTF_8));
      }
      return new Checksum(count, HexFormat.of().formatHex(sha.digest()));
    });
  }

  /** Compares by Unicode code point, which is UTF-8 byte order (String.compareTo compares UTF-16 units). */
  static int compareUtf8(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }
}

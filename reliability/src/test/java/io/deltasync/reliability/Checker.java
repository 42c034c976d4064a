package io.deltasync.reliability;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads a recorded {@link History} and the database and lists every broken promise. An empty list means: each
 * client's copy equals the database for its scopes; every acknowledged delta is in the change log (or was
 * superseded by a later version of its entity); no delta was applied twice; and no session delivered a change
 * twice or skipped one.
 */
final class Checker {
  /** An entity as both sides should agree on it: key, version and document. */
  record State(long rowVersion, Struct data) {}

  /** What the checker counted, for the run's summary. */
  record Counts(int pushed, int acknowledged, int delivered, int sessions, int changeLogRows,
      int seamRedeliveries, int reordered, int versionGapsInChangeLog) {}

  private final List<String> violations = new ArrayList<>();
  private Counts counts;

  List<String> violations() {
    return violations;
  }

  Counts counts() {
    return counts;
  }

  /** The live entities of the given scopes in the database, by "scope/type/id". */
  static Map<String, State> databaseState(Connection sql, Set<String> scopes) throws SQLException {
    Map<String, State> state = new TreeMap<>();
    try (Statement statement = sql.createStatement();
        ResultSet rows = statement.executeQuery("select scope, entity_type, entity_id, row_version, data::text"
            + " from entity where not is_deleted")) {
      while (rows.next()) {
        if (scopes.contains(rows.getString(1))) {
          state.put(rows.getString(1) + "/" + rows.getString(2) + "/" + rows.getString(3),
              new State(rows.getLong(4), struct(rows.getString(5))));
        }
      }
    }
    return state;
  }

  /** The part of {@code all} (keys scope/type/id) that lies in {@code scopes}. */
  static Map<String, State> within(Map<String, State> all, Set<String> scopes) {
    Map<String, State> part = new TreeMap<>();
    all.forEach((key, state) -> {
      if (scopes.contains(key.substring(0, key.indexOf('/')))) {
        part.put(key, state);
      }
    });
    return part;
  }

  /**
   * Whether the copies show convergence: every client synced (a copy, not null) and equal to the database for its
   * scopes, with the database the same before and after the copies were taken ({@code before}, {@code after}: every
   * live entity). Comparing each copy with its own read of the database is not enough: a write landing during the
   * sweep makes a copy taken before it and a copy taken after it each equal to "the database", though they differ
   * (the long runs' "write that landed after convergence" on site-a/task/e3 was this).
   */
  static boolean convergedAt(Map<String, State> before, Map<String, Map<String, State>> copies,
      Map<String, Set<String>> scopesByClient, Map<String, State> after) {
    for (var client : scopesByClient.entrySet()) {
      Map<String, State> copy = copies.get(client.getKey());
      if (copy == null || !copy.equals(within(before, client.getValue()))) {
        return false;
      }
    }
    return before.equals(after);
  }

  static Struct struct(String json) {
    Struct.Builder builder = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, builder);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("entity data is not a JSON object: " + json, e);
    }
    return builder.build();
  }

  /** Each client's copy (live entities, nothing pending) against the database for the scopes it reads. */
  void checkConvergence(Map<String, Map<String, State>> localByClient, Map<String, Set<String>> scopesByClient,
      Connection sql) throws SQLException {
    for (var entry : localByClient.entrySet()) {
      Map<String, State> expected = databaseState(sql, scopesByClient.get(entry.getKey()));
      Map<String, State> actual = entry.getValue();
      if (!expected.equals(actual)) {
        Set<String> keys = new java.util.TreeSet<>(expected.keySet());
        keys.addAll(actual.keySet());
        for (String key : keys) {
          if (!java.util.Objects.equals(expected.get(key), actual.get(key))) {
            violations.add("client " + entry.getKey() + " diverged on " + key + ": database " + expected.get(key)
                + ", client " + actual.get(key));
          }
        }
      }
    }
  }

  /** The history's promises against the change log and the idempotency records. */
  void checkHistory(History history, Connection sql) throws SQLException {
    // change_log by entity and version: the delta that made it.
    Map<String, String> deltaOfVersion = new HashMap<>();
    // change_log by entity: each version's position (tx_id, change_id), the order streams deliver in.
    Map<String, Map<Long, long[]>> positions = new HashMap<>();
    Map<String, Long> latest = new HashMap<>();
    int changeLogRows = 0;
    try (Statement statement = sql.createStatement();
        ResultSet rows = statement.executeQuery("select scope, entity_type, entity_id, row_version, client_id,"
            + " delta_id, tx_id, change_id from change_log")) {
      while (rows.next()) {
        changeLogRows++;
        String entity = rows.getString(1) + "/" + rows.getString(2) + "/" + rows.getString(3);
        String previous = deltaOfVersion.put(entity + "@" + rows.getLong(4), rows.getString(5) + ":"
            + rows.getString(6));
        if (previous != null) {
          violations.add("change_log holds version " + rows.getLong(4) + " of " + entity + " twice");
        }
        latest.merge(entity, rows.getLong(4), Math::max);
        positions.computeIfAbsent(entity, k -> new HashMap<>()).put(rows.getLong(4),
            new long[] {rows.getLong(7), rows.getLong(8)});
      }
    }
    // No delta applied twice: one change-log row per (client, delta) at most.
    try (Statement statement = sql.createStatement();
        ResultSet rows = statement.executeQuery("select client_id, delta_id, count(*) from change_log"
            + " where delta_id is not null group by client_id, delta_id having count(*) > 1")) {
      while (rows.next()) {
        violations.add("delta " + rows.getString(1) + ":" + rows.getString(2) + " applied " + rows.getLong(3)
            + " times");
      }
    }
    Set<String> recorded = new HashSet<>();
    try (Statement statement = sql.createStatement();
        ResultSet rows = statement.executeQuery("select client_id, delta_id from applied_delta")) {
      while (rows.next()) {
        recorded.add(rows.getString(1) + ":" + rows.getString(2));
      }
    }

    int pushed = 0;
    int acknowledged = 0;
    int delivered = 0;
    Set<Long> sessions = new HashSet<>();
    Map<String, Long> firstAnswerVersion = new HashMap<>();
    Map<String, io.deltasync.v1.Delta> sent = new HashMap<>();
    // Per session and entity: the versions the session learnt (changes and own push results) in wire order.
    Map<String, List<History.Delivered>> deliveries = new java.util.LinkedHashMap<>();
    int seamRedeliveries = 0;
    int reordered = 0;
    Map<String, Set<Long>> answeredVersions = new HashMap<>();
    for (History.Event event : history.events()) {
      switch (event) {
        case History.Pushed p -> {
          pushed++;
          sent.put(p.client() + ":" + p.delta().getDeltaId(), p.delta());
          sessions.add(p.session());
        }
        case History.Answered a -> {
          DeltaResult r = a.result();
          sessions.add(a.session());
          String delta = a.client() + ":" + r.getDeltaId();
          if (r.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED) {
            break;
          }
          if (r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED || r.getStatus() == DeltaStatus.DELTA_STATUS_CONFLICT) {
            if (r.getError().getCode() != 0 && !r.hasEntity()) {
              break; // a "not now" answer (busy, unavailable): retried later with the same id
            }
            acknowledged++;
            if (!recorded.contains(delta)) {
              violations.add("acknowledged delta " + delta + " (" + r.getStatus() + ") has no applied_delta record");
            }
            if (r.hasEntity()) {
              var e = r.getEntity();
              String entity = e.getScope() + "/" + e.getEntityType() + "/" + e.getEntityId();
              Long first = firstAnswerVersion.putIfAbsent(delta, e.getRowVersion());
              if (first != null && first != e.getRowVersion()) {
                violations.add("delta " + delta + " answered with version " + first + " and later "
                    + e.getRowVersion() + ": a retry was applied again");
              }
              String maker = deltaOfVersion.get(entity + "@" + e.getRowVersion());
              if (maker == null) {
                violations.add("acknowledged delta " + delta + " reported " + entity + " at version "
                    + e.getRowVersion() + ", which the change log does not hold (lost)");
              } else if (r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED && !r.getReplayed()
                  && !maker.equals(delta) && !deleteOfATombstone(sent.get(delta), r)) {
                violations.add("applied delta " + delta + " reported version " + e.getRowVersion() + " of " + entity
                    + ", but the change log says " + maker + " made it; result: "
                    + com.google.protobuf.TextFormat.shortDebugString(r.toBuilder().clearEntity().build()));
              }
              answeredVersions.computeIfAbsent(a.session() + "|" + entity, k -> new HashSet<>())
                  .add(e.getRowVersion());
              if (latest.getOrDefault(entity, 0L) < e.getRowVersion()) {
                violations.add("entity " + entity + " is behind acknowledged version " + e.getRowVersion());
              }
            }
          }
        }
        case History.Delivered d -> {
          delivered++;
          sessions.add(d.session());
          var e = d.change().getEntity();
          String key = d.session() + "|" + e.getScope() + "/" + e.getEntityType() + "/" + e.getEntityId();
          List<History.Delivered> seen = deliveries.computeIfAbsent(key, k -> new ArrayList<>());
          if (!seen.isEmpty() && seen.getLast().change().getEntity().getRowVersion() > e.getRowVersion()) {
            reordered++;
          }
          seen.add(d);
        }
        case History.Operation o -> { }
      }
    }
    for (var entry : deliveries.entrySet()) {
      String entity = entry.getKey().substring(entry.getKey().indexOf('|') + 1);
      seamRedeliveries += checkSession(entry.getKey(), entry.getValue(),
          answeredVersions.getOrDefault(entry.getKey(), Set.of()), positions.getOrDefault(entity, Map.of()));
    }
    // Versions an entity never had a change-log row for (its row_version jumped): no stream can deliver them, so
    // they are not a stream's skip; counted for the summary.
    Map<String, long[]> range = new HashMap<>();
    for (String key : deltaOfVersion.keySet()) {
      int at = key.lastIndexOf('@');
      long v = Long.parseLong(key.substring(at + 1));
      range.merge(key.substring(0, at), new long[] {v, v, 1},
          (a, b) -> new long[] {Math.min(a[0], b[0]), Math.max(a[1], b[1]), a[2] + b[2]});
    }
    int versionGaps = 0;
    for (long[] r : range.values()) {
      versionGaps += (int) (r[1] - r[0] + 1 - r[2]);
    }
    counts = new Counts(pushed, acknowledged, delivered, sessions.size(), changeLogRows, seamRedeliveries, reordered, versionGaps);
  }

  /** docs/conflicts.md: "a delete of a tombstone: applied, nothing changes" (the result carries the tombstone). */
  private static boolean deleteOfATombstone(io.deltasync.v1.Delta delta, DeltaResult result) {
    return delta != null && delta.getOperation() == io.deltasync.v1.Operation.OPERATION_DELETE
        && result.getEntity().getIsDeleted();
  }

  /**
   * One session's deliveries of one entity: each version at most once (but for the documented seam after the
   * initial state) and, in commit order, none skipped: every change-log row of the entity whose position lies
   * between the first and the last position the session delivered (catch-up and live) was delivered, or learnt
   * from the session's own push results (the server does not echo those). The range is by position, not by
   * row_version: versions of one entity can commit out of row_version order (docs/protocol.md, "Order within one
   * entity"), so a session may end after delivering version N+1 and before reaching N (the next session delivers
   * it), or resume after N (its cursor is past it) and deliver N+1 and N+2. Returns the seam redeliveries.
   *
   * @param changeLog the entity's change-log rows: version to position {tx_id, change_id}
   */
  int checkSession(String key, List<History.Delivered> seen, Set<Long> answered, Map<Long, long[]> changeLog) {
    int seam = 0;
    Map<Long, History.Delivered> byVersion = new HashMap<>();
    long[] first = null;
    long[] last = null;
    for (History.Delivered d : seen) {
      long v = d.change().getEntity().getRowVersion();
      History.Delivered earlier = byVersion.putIfAbsent(v, d);
      if (earlier != null) {
        if (earlier.phase() == io.deltasync.v1.SyncPhase.SYNC_PHASE_INITIAL_STATE
            && d.phase() != io.deltasync.v1.SyncPhase.SYNC_PHASE_INITIAL_STATE) {
          // Documented (DESIGN-NOTES §1, docs/protocol.md): a change of a transaction at or above the initial
          // snapshot's xmin may come again after the initial state; clients skip it by row_version.
          seam++;
        } else {
          violations.add("session " + key + ": version " + v + " delivered twice (" + earlier.phase() + ", then "
              + d.phase() + ")");
        }
      }
      long[] at = changeLog.get(v);
      if (d.phase() != io.deltasync.v1.SyncPhase.SYNC_PHASE_INITIAL_STATE && at != null) {
        first = first == null || compare(at, first) < 0 ? at : first;
        last = last == null || compare(at, last) > 0 ? at : last;
      }
    }
    if (first == null) {
      return seam;
    }
    for (var row : new TreeMap<>(changeLog).entrySet()) {
      long v = row.getKey();
      if (compare(row.getValue(), first) > 0 && compare(row.getValue(), last) < 0 && !byVersion.containsKey(v)
          && !answered.contains(v)) {
        violations.add("session " + key + ": version " + v + " skipped (at position " + row.getValue()[0] + "/"
            + row.getValue()[1] + ", between the delivered " + first[0] + "/" + first[1] + " and " + last[0] + "/"
            + last[1] + ")");
      }
    }
    return seam;
  }

  private static int compare(long[] a, long[] b) {
    int byTx = Long.compare(a[0], b[0]);
    return byTx != 0 ? byTx : Long.compare(a[1], b[1]);
  }
}

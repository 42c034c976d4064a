package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.ChangePage;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Change;
import java.util.ArrayList;
import java.util.List;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The stream's reads bounded by bytes (store.BoundedReads) against what other writers leave in the tables, from the
 * review of the sixth catch-up pass: times outside protobuf's Timestamp range ('infinity', BC, year 10000: delivered
 * degraded, never as an invalid Timestamp, and never failing the read), and every row once and in order at any row
 * limit and byte budget (one commit of many rows, filtered-out scopes in between, large and small documents,
 * updates and tombstones) for catch-up and initial state alike.
 */
class BoundedReadsEdgesIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  /** A cursor encoder for the store's bounded reads (as ChangeFeed's, without the epoch). */
  private static final SyncStore.CursorEncoder CURSORS = (position, anchor) -> position + "@" + anchor;

  private static DSLContext sql() {
    return server.sql();
  }

  @Test
  void timestampsAtTheEdgesAreDeliveredValidOrDegraded() {
    DSLContext sql = sql();
    String[] times = {"'infinity'", "'-infinity'", "'0044-03-15 12:00:00.123456+00 BC'", "'9999-12-31 "
        + "23:59:59.999999+00'", "'10000-01-01 00:00:00+00'", "'1969-12-31 23:59:59.999999+00'"};
    SyncStore store = new SyncStore(sql);
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < times.length; i++) {
      String scope = "ts" + i;
      sql.execute("INSERT INTO change_log (scope, entity_type, entity_id, operation, row_version, etag, data, "
          + "sync_status, conflict_data, is_deleted, last_modified_at, last_modified_by, created_at) VALUES (?, "
          + "'t', 'x', 'update', 1, 'e', '{}'::jsonb, 'synced', NULL, false, " + times[i] + ", 'w', "
          + times[i] + ")", scope);
      ChangeFilter filter = ChangeFilter.of(List.of(), List.of(scope));
      String old;
      try {
        old = store.readChanges(Position.START, 10, filter).changes().getFirst().change().getEntity()
            .getLastModifiedAt().toString().replace('\n', ' ');
      } catch (RuntimeException e) {
        old = "read FAILED: " + e.getClass().getSimpleName();
      }
      Change now = store.readChanges(Position.START, 10, 1 << 20, filter, CURSORS).changes().getFirst().change();
      boolean valid = com.google.protobuf.util.Timestamps.isValid(now.getEntity().getLastModifiedAt())
          && com.google.protobuf.util.Timestamps.isValid(now.getEntity().getCreatedAt());
      if (!valid && !now.hasDegraded()) {
        problems.add(times[i] + " -> " + now.getEntity().getLastModifiedAt().toString().replace('\n', ' ')
            + " (jOOQ path: " + old + ")");
      }
    }
    assertThat(problems).as("changes delivered with a Timestamp outside protobuf's valid range, not degraded")
        .isEmpty();
  }

  @Test
  void pagesAtAnyBudgetDeliverEveryRowOnceInOrder() throws Exception {
    // One connection for the many reads (the test's data source opens a connection per statement).
    java.sql.Connection connection = server.database().dataSource().getConnection();
    DSLContext sql = org.jooq.impl.DSL.using(connection, org.jooq.SQLDialect.POSTGRES);
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT CASE WHEN g % 4 = 0 THEN "
        + "'tie-other' WHEN g % 5 = 0 THEN 'tie-b' ELSE 'tie' END, CASE WHEN g % 3 = 0 THEN 'task' ELSE 'note' END, "
        + "lpad(g::text, 5, '0'), jsonb_build_object('t', repeat('w', CASE WHEN g % 7 = 0 THEN 20000 ELSE 20 END)) "
        + "FROM generate_series(1, 300) g");
    sql.execute("UPDATE entity SET data = data || '{\"u\": 1}'::jsonb WHERE scope LIKE 'tie%' AND entity_id < '00150'");
    sql.execute("UPDATE entity SET is_deleted = true WHERE scope LIKE 'tie%' AND entity_id LIKE '%1'");
    SyncStore store = new SyncStore(sql);
    ChangeFilter filter = ChangeFilter.of(List.of(), List.of("tie", "tie-b"));
    List<String> expected = sql.fetch("select scope || '/' || entity_id || '/' || row_version from change_log where "
        + "scope in ('tie', 'tie-b') order by tx_id, change_id").getValues(0, String.class);
    List<String> expectedState = sql.fetch("select scope || '/' || entity_type || '/' || entity_id from entity where "
        + "scope in ('tie', 'tie-b') and not is_deleted order by scope, entity_type, entity_id").getValues(0,
        String.class);
    int[][] combos = {{1, 1}, {7, 1}, {1000, 1}, {1000, 500}, {1000, 32 * 1024}, {3, 32 * 1024}, {10_000, -1}};
    for (int[] combo : combos) {
      int limit = combo[0];
      long budget = combo[1] < 0 ? Long.MAX_VALUE / 4 : combo[1];
      List<String> got = new ArrayList<>();
      Position from = Position.START;
      int reads = 0;
      while (true) {
        ChangePage page = store.readChanges(from, limit, budget, filter, CURSORS);
        reads++;
        assertThat(page.changes().size()).isLessThanOrEqualTo(limit);
        if (page.hasMore()) {
          assertThat(page.changes()).as("a page with more after it is not empty").isNotEmpty();
          assertThat(page.frontier()).isEqualTo(page.changes().getLast().position());
        }
        page.changes().forEach(c -> got.add(c.change().getEntity().getScope() + "/"
            + c.change().getEntity().getEntityId() + "/" + c.change().getEntity().getRowVersion()));
        from = page.frontier();
        if (!page.hasMore()) {
          break;
        }
        assertThat(reads).isLessThan(100_000);
      }
      assertThat(got).as("catch-up, limit %d, budget %d", limit, budget).containsExactlyElementsOf(expected);

      List<String> state = new ArrayList<>();
      io.deltasync.server.store.EntityKey after = null;
      while (true) {
        SyncStore.StatePage page = store.readInitialState(filter, ChangeFilter.all(), after, limit, budget);
        page.changes().forEach(c -> state.add(c.getEntity().getScope() + "/" + c.getEntity().getEntityType() + "/"
            + c.getEntity().getEntityId()));
        if (!page.changes().isEmpty()) {
          var e = page.changes().getLast().getEntity();
          after = new io.deltasync.server.store.EntityKey(e.getScope(), e.getEntityType(), e.getEntityId());
        } else {
          assertThat(page.more()).as("an empty state page with more after it").isFalse();
        }
        if (!page.more()) {
          break;
        }
      }
      assertThat(state).as("initial state, limit %d, budget %d", limit, budget)
          .containsExactlyElementsOf(expectedState);
    }
  }
}

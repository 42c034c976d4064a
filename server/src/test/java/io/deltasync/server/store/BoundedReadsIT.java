package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.Change;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The stream's catch-up and initial-state reads are bounded by bytes in the query ({@link BoundedReads}): at a jump
 * from small rows to large documents a read returns a budget of rows, not the row count the small rows suggested; a
 * row larger than the budget comes alone; reading page after page from each page's end returns every row once, in
 * order (with a degraded row, with writes committing between pages, with a transaction still open), and the
 * statement stays an ordered index range scan with its LIMIT.
 */
class BoundedReadsIT {
  private static final long BUDGET = 32 * 1024;
  private static final int LARGE = 150_000;

  // A cursor that shows what it was made of: the change's position and its commit time in microseconds.
  private static final SyncStore.CursorEncoder CURSORS = (position, anchor) -> position.txId() + "/"
      + position.changeId() + "@" + anchor;

  private static TestPostgres.TestDatabase database;
  private static DSLContext sql;
  private static SyncStore store;

  @BeforeAll
  static void database() {
    database = TestPostgres.newDatabase();
    sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    store = new SyncStore(sql);
  }

  private static void small(String scope, String prefix, int count) {
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT ?, 'note', ? || lpad(g::text, 5, "
        + "'0'), jsonb_build_object('n', g, 'body', 'a small document') FROM generate_series(1, ?) g", scope, prefix,
        count);
  }

  private static void large(String scope, String prefix, int count) {
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT ?, 'note', ? || lpad(g::text, 5, "
        + "'0'), jsonb_build_object('text', repeat('x', ?)) FROM generate_series(1, ?) g", scope, prefix, LARGE,
        count);
  }

  private static List<String> logged(String scope) {
    return sql.fetch("select entity_id from change_log where scope = ? order by tx_id, change_id", scope)
        .getValues(0, String.class);
  }

  private static long bytes(List<Change> changes) {
    return changes.stream().mapToLong(Change::getSerializedSize).sum();
  }

  /** Reads the whole log of {@code scope} page by page from each page's frontier; checks each read's bytes. */
  private static List<String> catchUp(String scope, int limit) {
    ChangeFilter filter = ChangeFilter.of(List.of(), List.of(scope));
    List<String> ids = new ArrayList<>();
    Position from = Position.START;
    while (true) {
      ChangePage page = store.readChanges(from, limit, BUDGET, filter, CURSORS);
      List<Change> changes = page.changes().stream().map(ChangePage.Positioned::change).toList();
      for (ChangePage.Positioned positioned : page.changes()) {
        var at = positioned.change().getEntity().getLastModifiedAt();
        assertThat(positioned.change().getCursor()).isEqualTo(positioned.position().txId() + "/"
            + positioned.position().changeId() + "@" + (at.getSeconds() * 1_000_000 + at.getNanos() / 1_000));
      }
      assertThat(changes.size()).isLessThanOrEqualTo(limit);
      if (changes.size() > 1) {
        assertThat(bytes(changes)).as("a read of %d rows from %s", changes.size(), from).isLessThanOrEqualTo(BUDGET);
      }
      changes.forEach(c -> ids.add(c.getEntity().getEntityId()));
      from = page.frontier();
      if (!page.hasMore()) {
        return ids;
      }
    }
  }

  @Test
  void aCatchUpReadStopsAtItsBudgetAtASizeJump() throws Exception {
    small("jump", "a", 50);
    large("jump", "b", 12);
    small("jump", "c", 300);
    SyncStore.BoundedReadStats before = SyncStore.boundedReadStats();

    ChangeFilter filter = ChangeFilter.of(List.of(), List.of("jump"));
    ChangePage first = store.readChanges(Position.START, 1_000, BUDGET, filter, CURSORS);
    assertThat(first.changes()).extracting(c -> c.change().getEntity().getEntityId())
        .as("the small rows, not the large documents after them").allMatch(id -> id.startsWith("a"));
    assertThat(first.hasMore()).isTrue();
    assertThat(first.frontier()).isEqualTo(first.changes().getLast().position());
    ChangePage second = store.readChanges(first.frontier(), 1_000, BUDGET, filter, CURSORS);
    assertThat(second.changes()).as("a row larger than the budget comes alone").hasSize(1);
    assertThat(second.changes().getFirst().change().getEntity().getEntityId()).isEqualTo("b00001");
    // The documents travel as wire bytes (DocumentWire): read them as a client does, from the serialized change.
    assertThat(Change.parseFrom(second.changes().getFirst().change().toByteArray()).getEntity().getData()
        .getFieldsOrThrow("text").getStringValue()).hasSize(LARGE);

    assertThat(catchUp("jump", 1_000)).containsExactlyElementsOf(logged("jump"));
    SyncStore.BoundedReadStats after = SyncStore.boundedReadStats();
    assertThat(after.multiRowReadsOverBudget() - before.multiRowReadsOverBudget()).isZero();
    assertThat(after.reads() - before.reads()).as("reads").isGreaterThan(12);
  }

  @Test
  void everyRowOnceWithADegradedRowWritesBetweenPagesAndATransactionStillOpen() throws Exception {
    small("mixed", "a", 40);
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_data_fits");
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('mixed', 'note', 'deep', "
        + "(repeat('{\"n\": ', 199) || '{}' || repeat('}', 199))::jsonb)");
    large("mixed", "b", 2);
    small("mixed", "c", 40);

    ChangeFilter filter = ChangeFilter.of(List.of(), List.of("mixed"));
    List<String> ids = new ArrayList<>();
    Position from = Position.START;
    boolean degradedSeen = false;
    int pages = 0;
    try (Connection open = database.dataSource().getConnection()) {
      while (true) {
        ChangePage page = store.readChanges(from, 7, BUDGET, filter, CURSORS);
        for (ChangePage.Positioned positioned : page.changes()) {
          ids.add(positioned.change().getEntity().getEntityId());
          if (positioned.change().getEntity().getEntityId().equals("deep")) {
            assertThat(positioned.change().hasDegraded()).isTrue();
            degradedSeen = true;
          }
        }
        from = page.frontier();
        pages++;
        if (pages == 3) {
          // A transaction that has written but not committed: nothing after it may be passed by a frontier.
          open.setAutoCommit(false);
          try (Statement statement = open.createStatement()) {
            statement.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('mixed', 'note', "
                + "'late', '{}')");
          }
        }
        if (pages == 4) {
          small("mixed", "d", 5);  // commits while the catch-up goes on
        }
        if (!page.hasMore()) {
          break;
        }
      }
      assertThat(ids).doesNotContain("late");
      open.commit();
    }
    // Resuming from where the first catch-up ended brings the rest, the late transaction included.
    while (true) {
      ChangePage page = store.readChanges(from, 7, BUDGET, filter, CURSORS);
      page.changes().forEach(c -> ids.add(c.change().getEntity().getEntityId()));
      from = page.frontier();
      if (!page.hasMore()) {
        break;
      }
    }
    assertThat(degradedSeen).isTrue();
    assertThat(ids).containsExactlyElementsOf(logged("mixed"));
    assertThat(ids).contains("late", "d00005");
  }

  @Test
  void initialStateReadsStopAtTheirBudgetAndResumeFromEveryPage() {
    small("s1", "a", 30);
    large("s1", "b", 5);
    small("s1", "c", 30);
    small("s2", "a", 20);
    large("s2", "b", 1);
    ChangeFilter filter = ChangeFilter.of(List.of(), List.of("s1", "s2"));
    List<String> expected = sql.fetch("select scope || '/' || entity_id from entity where scope in ('s1', 's2') "
        + "and not is_deleted order by scope, entity_type, entity_id").getValues(0, String.class);

    SyncStore.BoundedReadStats before = SyncStore.boundedReadStats();
    List<List<String>> pages = new ArrayList<>();
    EntityKey after = null;
    while (true) {
      SyncStore.StatePage page = store.readInitialState(filter, ChangeFilter.all(), after, 1_000, BUDGET);
      if (page.changes().size() > 1) {
        assertThat(bytes(page.changes())).isLessThanOrEqualTo(BUDGET);
      }
      pages.add(page.changes().stream().map(c -> c.getEntity().getScope() + "/" + c.getEntity().getEntityId())
          .toList());
      if (!page.changes().isEmpty()) {
        var last = page.changes().getLast().getEntity();
        after = new EntityKey(last.getScope(), last.getEntityType(), last.getEntityId());
      }
      if (!page.more()) {
        break;
      }
    }
    assertThat(pages.stream().flatMap(List::stream).toList()).containsExactlyElementsOf(expected);
    assertThat(pages.getFirst()).as("the small rows before the first large document")
        .allMatch(id -> id.startsWith("s1/a"));
    assertThat(pages).as("each large document alone").filteredOn(p -> p.stream().anyMatch(id -> id.contains("/b")))
        .allMatch(p -> p.size() == 1);
    assertThat(SyncStore.boundedReadStats().multiRowReadsOverBudget() - before.multiRowReadsOverBudget()).isZero();

    // From every page's last key, the rest of the state exactly.
    int upTo = 0;
    for (List<String> page : pages) {
      upTo += page.size();
      if (page.isEmpty() || upTo == expected.size()) {
        continue;
      }
      String[] last = page.getLast().split("/");
      List<String> rest = new ArrayList<>();
      EntityKey from = new EntityKey(last[0], "note", last[1]);
      while (true) {
        SyncStore.StatePage next = store.readInitialState(filter, ChangeFilter.all(), from, 1_000, BUDGET);
        next.changes().forEach(c -> rest.add(c.getEntity().getScope() + "/" + c.getEntity().getEntityId()));
        if (!next.changes().isEmpty()) {
          var e = next.changes().getLast().getEntity();
          from = new EntityKey(e.getScope(), e.getEntityType(), e.getEntityId());
        }
        if (!next.more()) {
          break;
        }
      }
      assertThat(rest).as("after %s", page.getLast()).containsExactlyElementsOf(expected.subList(upTo,
          expected.size()));
    }
  }

  @Test
  void theStatementsStayOrderedIndexRangeScansWithTheirLimit() {
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'plan', 'note', lpad(g::text, 6, "
        + "'0'), jsonb_build_object('n', g) FROM generate_series(1, 30000) g");
    sql.execute("ANALYZE entity");
    sql.execute("ANALYZE change_log");
    long xmin = store.watermark();
    String log = plan(store.boundedChangesQuery(new Position(xmin - 2, 0), xmin, 2_000, BUDGET,
        ChangeFilter.of(List.of(), List.of("plan"))));
    assertThat(log).contains("Limit").containsPattern("Index Scan using change_log_\\w+")
        .doesNotContain("Seq Scan").doesNotContain("Sort");
    String state = plan(store.boundedStateQuery(ChangeFilter.of(List.of(), List.of("plan")), 2_000, BUDGET));
    assertThat(state).contains("Limit").containsPattern("Index Scan using entity_\\w+")
        .doesNotContain("Seq Scan").doesNotContain("Sort");
  }

  private static String plan(org.jooq.Query query) {
    return String.join("\n", sql.fetch("EXPLAIN " + sql.renderInlined(query)).map(row -> row.get(0, String.class)));
  }
}

package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.Change;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The stream's reads ({@link BoundedReads}: documents as wire bytes, {@link DocumentWire}) against Pull's reads (jOOQ
 * records, documents as Struct trees) of the same rows in PostgreSQL, so with jsonb's own printing and normalizing:
 * every change and every initial-state row parses to the same message, over the data-fidelity corpus (rows the
 * database guards refuse written as an older database may hold them, delivered degraded both ways) and seeded random
 * documents.
 */
class DocumentWireIT {
  private static final SyncStore.CursorEncoder CURSORS = (position, anchor) -> position.txId() + "/"
      + position.changeId() + "@" + anchor;

  private static DSLContext sql;
  private static SyncStore store;
  private static int rows;

  @BeforeAll
  static void database() {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    store = new SyncStore(sql);
    // As plain SQL could write before the guards (V6, V12): too deep, conflict_data not an object.
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_conflict_data_is_object");
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_data_fits");
    sql.execute("ALTER TABLE entity DROP CONSTRAINT IF EXISTS entity_conflict_data_fits");
    List<String> documents = new ArrayList<>();
    for (String document : DocumentWireTest.corpus()) {
      if (document.length() < 1_000_000) {
        documents.add(document);
      }
    }
    long seed = System.nanoTime();
    System.out.println("DocumentWireIT seed " + seed);
    Random random = new Random(seed);
    for (int i = 0; i < 120; i++) {
      documents.add(Json.toJson(DocumentWireTest.randomStruct(random, random.nextInt(5))));
    }
    for (String document : documents) {
      String id = String.format("%06d", rows++);
      try {
        // One transaction per row: a document jsonb refuses (not JSON, a lone surrogate) is skipped alone.
        sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('wire', 'note', ?, ?::jsonb)",
            id, document);
      } catch (org.jooq.exception.DataAccessException refused) {
        try {
          // Not an object: as conflict_data of a row, which only the dropped guard refused.
          sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data, conflict_data) VALUES ('wire', "
              + "'note', ?, '{}', ?::jsonb)", id, document);
        } catch (org.jooq.exception.DataAccessException notJson) {
          continue;
        }
      }
      if (rows % 3 == 0) {
        sql.execute("UPDATE entity SET conflict_data = data WHERE scope = 'wire' AND entity_id = ?", id);
      }
      if (rows % 5 == 0) {
        sql.execute("UPDATE entity SET is_deleted = true, row_version = row_version + 1 WHERE scope = 'wire' "
            + "AND entity_id = ?", id);
      }
    }
  }

  @Test
  void everyChangeParsesToWhatPullsReadBuilds() throws Exception {
    ChangeFilter filter = ChangeFilter.of(List.of(), List.of("wire"));
    List<Change> byPull = store.readChanges(Position.START, 100_000, filter).changes().stream()
        .map(ChangePage.Positioned::change).toList();
    List<Change> byStream = new ArrayList<>();
    Position from = Position.START;
    while (true) {
      ChangePage page = store.readChanges(from, 37, 256 * 1024, filter, CURSORS);
      page.changes().forEach(p -> byStream.add(p.change()));
      from = page.frontier();
      if (!page.hasMore()) {
        break;
      }
    }
    assertThat(byStream).hasSameSizeAs(byPull).isNotEmpty();
    assertThat(byStream.stream().filter(Change::hasDegraded).count()).as("degraded rows").isPositive();
    for (int i = 0; i < byPull.size(); i++) {
      assertThat(wire(byStream.get(i))).as("change %d", i).isEqualTo(wire(byPull.get(i)));
      assertThat(byStream.get(i).toBuilder().clearCursor().build().getSerializedSize()).as("change %d", i)
          .isEqualTo(byPull.get(i).getSerializedSize());
    }
  }

  @Test
  void everyInitialStateRowParsesToWhatPullsReadBuilds() throws Exception {
    ChangeFilter filter = ChangeFilter.of(List.of(), List.of("wire"));
    List<Change> byPull = store.readInitialState(filter, new ChangeFilter(List.of()), null, 100_000);
    List<Change> byStream = new ArrayList<>();
    EntityKey after = null;
    while (true) {
      SyncStore.StatePage page = store.readInitialState(filter, new ChangeFilter(List.of()), after, 41,
          256 * 1024);
      byStream.addAll(page.changes());
      if (!page.more() || page.changes().isEmpty()) {
        break;
      }
      var last = page.changes().getLast().getEntity();
      after = new EntityKey(last.getScope(), last.getEntityType(), last.getEntityId());
    }
    assertThat(byStream).hasSameSizeAs(byPull).isNotEmpty();
    for (int i = 0; i < byPull.size(); i++) {
      assertThat(wire(byStream.get(i))).as("row %d", i).isEqualTo(wire(byPull.get(i)));
    }
  }

  /** As a client receives it (the cursor aside: Pull's read sets none, BoundedReadsIT checks the stream's). */
  private static Change wire(Change change) throws Exception {
    return Change.parseFrom(change.toBuilder().clearCursor().build().toByteArray());
  }
}

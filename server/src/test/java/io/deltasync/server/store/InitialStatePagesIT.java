package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.Change;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jooq.DSLContext;
import org.jooq.ExecuteContext;
import org.jooq.SQLDialect;
import org.jooq.conf.Settings;
import org.jooq.conf.StatementType;
import org.jooq.impl.DSL;
import org.jooq.impl.DefaultConfiguration;
import org.jooq.impl.DefaultExecuteListenerProvider;
import org.junit.jupiter.api.Test;

/**
 * A page of the initial state costs the page, not the pages before it: the statements the store runs for a page in
 * the middle of a large scope touch a few buffers, however far into the scope the page starts. With one row
 * comparison over the whole key beside the subscription's {@code scope = ?}, PostgreSQL started every page at the
 * scope's first row (a million-row scope paged quadratically). Counted in buffers, which do not depend on the
 * machine's speed.
 */
class InitialStatePagesIT {
  private static final int ROWS = 40_000;
  private static final Pattern BUFFERS = Pattern.compile("Buffers: shared(?: hit=(\\d+))?(?: read=(\\d+))?");

  @Test
  void aPageDeepInALargeScopeReadsOnlyThatPage() {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'large', 'note', "
        + "lpad(g::text, 6, '0'), jsonb_build_object('n', g, 'body', 'a small document') "
        + "FROM generate_series(0, " + (ROWS - 1) + ") g");
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'later', 'note', g::text, "
        + "'{}'::jsonb FROM generate_series(0, 9) g");
    sql.execute("ANALYZE entity");

    // The store's statements, with their values inlined, as it runs them.
    List<String> statements = new ArrayList<>();
    DefaultConfiguration recording = new DefaultConfiguration();
    recording.set(database.dataSource()).set(SQLDialect.POSTGRES)
        .set(new Settings().withStatementType(StatementType.STATIC_STATEMENT))
        .set(new DefaultExecuteListenerProvider(new org.jooq.ExecuteListener() {
          @Override
          public void executeStart(ExecuteContext ctx) {
            statements.add(ctx.sql());
          }
        }));
    SyncStore store = new SyncStore(DSL.using(recording));

    ChangeFilter oneScope = ChangeFilter.of(List.of(), List.of("large"));
    EntityKey deep = new EntityKey("large", "note", String.format("%06d", ROWS * 3 / 4));
    List<Change> page = store.readInitialState(oneScope, ChangeFilter.all(), deep, 100);
    assertThat(page).extracting(c -> c.getEntity().getEntityId())
        .first().isEqualTo(String.format("%06d", ROWS * 3 / 4 + 1));
    assertThat(page).hasSize(100);

    assertThat(statements).isNotEmpty();
    for (String statement : statements) {
      long buffers = buffers(sql, statement);
      assertThat(buffers).as("buffers of %s", statement).isLessThan(60);
    }

    // The end of one scope continues into the next, in key order, each row once.
    List<Change> across = store.readInitialState(ChangeFilter.of(List.of(), List.of("large", "later")),
        ChangeFilter.all(),
        new EntityKey("large", "note", String.format("%06d", ROWS - 3)), 10);
    assertThat(across).extracting(c -> c.getEntity().getScope() + "/" + c.getEntity().getEntityId())
        .containsExactly("large/" + String.format("%06d", ROWS - 2), "large/" + String.format("%06d", ROWS - 1),
            "later/0", "later/1", "later/2", "later/3", "later/4", "later/5", "later/6", "later/7");
    assertThat(Set.copyOf(across)).hasSize(10);
  }

  /** Shared buffers the statement touches (hit or read), from EXPLAIN (ANALYZE, BUFFERS) of its top node. */
  private static long buffers(DSLContext sql, String statement) {
    String plan = String.join("\n", sql.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement)
        .map(row -> row.get(0, String.class)));
    Matcher m = BUFFERS.matcher(plan);
    assertThat(m.find()).as("plan of %s:%n%s", statement, plan).isTrue();
    return (m.group(1) == null ? 0 : Long.parseLong(m.group(1))) + (m.group(2) == null ? 0 : Long.parseLong(m.group(2)));
  }
}

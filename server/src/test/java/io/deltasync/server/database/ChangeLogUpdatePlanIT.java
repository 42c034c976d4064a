package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The change-log trigger of updates (deltasync_entity_log_writes, V14) joins its OLD and NEW transition tables.
 * PL/pgSQL caches that plan per session, sized for the transition tables it was first made for: after a few one-row
 * updates it was a nested loop, and an update of n rows then cost n x n in the trigger (issue 11, eighth part: the
 * largest cost of a 500-delta batch of compare-and-set updates). V24 turns nested loops off inside the function.
 * auto_explain (shipped with PostgreSQL) shows the plan the trigger's statement actually ran with.
 */
class ChangeLogUpdatePlanIT {
  private static final int ROWS = 300;

  @Test
  void aLargeUpdateAfterSmallOnesIsLoggedWithoutANestedLoopOverTheTransitionTables() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (Connection connection = db.dataSource().getConnection(); Statement sql = connection.createStatement()) {
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'plan', 'note', 'e' || i, "
          + "jsonb_build_object('n', i) FROM generate_series(1, " + ROWS + ") i");
      sql.execute("LOAD 'auto_explain'");
      sql.execute("SET auto_explain.log_min_duration = 0");
      sql.execute("SET auto_explain.log_nested_statements = on");
      sql.execute("SET auto_explain.log_level = notice");
      sql.execute("SET client_min_messages = notice");
      // One-row updates first, as a server's connection sees single deltas: past five executions PL/pgSQL keeps a
      // generic plan made for transition tables of one row.
      for (int i = 1; i <= 8; i++) {
        sql.executeUpdate("UPDATE entity SET data = jsonb_build_object('n', -" + i + ") WHERE scope = 'plan' AND "
            + "entity_id = 'e" + i + "'");
      }
      sql.clearWarnings();
      assertThat(sql.executeUpdate("UPDATE entity SET data = data || '{\"m\": 1}' WHERE scope = 'plan'"))
          .isEqualTo(ROWS);
      List<String> triggerPlans = new ArrayList<>();
      for (SQLWarning w = sql.getWarnings(); w != null; w = w.getNextWarning()) {
        if (w.getMessage().contains("INSERT INTO change_log") && w.getMessage().contains("previous")) {
          triggerPlans.add(w.getMessage());
        }
      }
      assertThat(triggerPlans).as("the plan of the trigger's logging statement (auto_explain)").hasSize(1);
      assertThat(triggerPlans.get(0)).contains("Named Tuplestore Scan").doesNotContain("Nested Loop");
      try (ResultSet logged = sql.executeQuery("SELECT count(*) FROM change_log WHERE scope = 'plan' "
          + "AND operation = 'update'")) {
        logged.next();
        assertThat(logged.getInt(1)).as("every update logged").isEqualTo(8 + ROWS);
      }
    }
  }
}

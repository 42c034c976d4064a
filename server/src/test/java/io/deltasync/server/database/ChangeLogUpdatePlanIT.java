package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The change-log trigger of updates (deltasync_entity_log_writes, V14) joins its OLD and NEW transition tables.
 * PL/pgSQL caches that plan per session, sized for the transition tables it was first made for: after a few one-row
 * updates it was a nested loop, and an update of n rows then cost n x n in the trigger (issue 11, eighth part: the
 * largest cost of a 500-delta batch of compare-and-set updates). V24 turned nested loops off inside the function,
 * which made every one-row update pay for a 1x1 hash join; V25 logs statements of at most 8 rows through a statement
 * of their own (a nested loop) and larger ones through one that always runs with nested loops off. auto_explain
 * (shipped with PostgreSQL) shows the plan the trigger's statement actually ran with.
 */
class ChangeLogUpdatePlanIT {
  private static final int ROWS = 300;

  @Test
  void aLargeUpdateAfterSmallOnesIsLoggedWithoutANestedLoopOverTheTransitionTables() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (Connection connection = db.dataSource().getConnection(); Statement sql = connection.createStatement()) {
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'plan', 'note', 'e' || i, "
          + "jsonb_build_object('n', i) FROM generate_series(1, " + ROWS + ") i");
      explainNestedStatements(sql);
      // One-row updates first, as a server's connection sees single deltas: past five executions PL/pgSQL keeps a
      // generic plan made for transition tables of one row.
      for (int i = 1; i <= 8; i++) {
        sql.executeUpdate("UPDATE entity SET data = jsonb_build_object('n', -" + i + ") WHERE scope = 'plan' AND "
            + "entity_id = 'e" + i + "'");
      }
      sql.clearWarnings();
      assertThat(sql.executeUpdate("UPDATE entity SET data = data || '{\"m\": 1}' WHERE scope = 'plan'"))
          .isEqualTo(ROWS);
      List<String> triggerPlans = triggerPlans(sql);
      assertThat(triggerPlans).as("the plan of the trigger's logging statement (auto_explain)").hasSize(1);
      assertThat(triggerPlans.get(0)).contains("Named Tuplestore Scan").doesNotContain("Nested Loop");
      try (ResultSet logged = sql.executeQuery("SELECT count(*) FROM change_log WHERE scope = 'plan' "
          + "AND operation = 'update'")) {
        logged.next();
        assertThat(logged.getInt(1)).as("every update logged").isEqualTo(8 + ROWS);
      }
    }
  }

  /**
   * A one-row update (every single delta's compare-and-set, most plain-SQL writers) is logged by a nested loop over
   * the two one-row transition tables, not a hash join (V24 made it a hash join: 10-40% more server time per one-row
   * UPDATE in a review's measurements), including on a session that has run a large update before (each of the two
   * statements keeps its own cached plan), and the boundary of the two statements is where V25 says: 8 rows by the
   * first, 9 by the second.
   */
  @Test
  void aOneRowUpdateIsLoggedByANestedLoopEvenAfterALargeUpdate() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    try (Connection connection = db.dataSource().getConnection(); Statement sql = connection.createStatement()) {
      sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) SELECT 'one', 'note', 'e' || i, "
          + "jsonb_build_object('n', i) FROM generate_series(1, " + ROWS + ") i");
      explainNestedStatements(sql);
      for (int round = 1; round <= 8; round++) {
        assertThat(oneTriggerPlan(sql, "UPDATE entity SET data = jsonb_build_object('n', -" + round + ") "
            + "WHERE scope = 'one' AND entity_id = 'e" + round + "'", 1))
            .as("one-row update %d", round).contains("Nested Loop").doesNotContain("Hash Join");
      }
      assertThat(oneTriggerPlan(sql, "UPDATE entity SET data = data || '{\"m\": 1}' WHERE scope = 'one'", ROWS))
          .doesNotContain("Nested Loop");
      for (int round = 9; round <= 16; round++) {
        assertThat(oneTriggerPlan(sql, "UPDATE entity SET data = jsonb_build_object('n', -" + round + ") "
            + "WHERE scope = 'one' AND entity_id = 'e" + round + "'", 1))
            .as("one-row update %d after the large one", round).contains("Nested Loop").doesNotContain("Hash Join");
      }
      // The boundary, on the same session: both statements' plans are cached by now.
      assertThat(oneTriggerPlan(sql, "UPDATE entity SET data = data || '{\"b\": 8}' WHERE scope = 'one' "
          + "AND entity_id IN ('e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8')", 8)).contains("Nested Loop");
      assertThat(oneTriggerPlan(sql, "UPDATE entity SET data = data || '{\"b\": 9}' WHERE scope = 'one' "
          + "AND entity_id IN ('e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9')", 9))
          .doesNotContain("Nested Loop");
      try (ResultSet logged = sql.executeQuery("SELECT count(*) FROM change_log WHERE scope = 'one' "
          + "AND operation = 'update'")) {
        logged.next();
        assertThat(logged.getInt(1)).as("every update logged").isEqualTo(16 + ROWS + 8 + 9);
      }
    }
  }

  /** auto_explain logs, as notices the driver keeps as warnings, the plan of every statement the triggers run. */
  static void explainNestedStatements(Statement sql) throws SQLException {
    sql.execute("LOAD 'auto_explain'");
    sql.execute("SET auto_explain.log_min_duration = 0");
    sql.execute("SET auto_explain.log_nested_statements = on");
    sql.execute("SET auto_explain.log_level = notice");
    sql.execute("SET client_min_messages = notice");
  }

  /** The plans of the update trigger's logging statement among the statement's warnings. */
  static List<String> triggerPlans(Statement sql) throws SQLException {
    List<String> plans = new ArrayList<>();
    for (SQLWarning w = sql.getWarnings(); w != null; w = w.getNextWarning()) {
      if (w.getMessage().contains("INSERT INTO change_log") && w.getMessage().contains("previous")) {
        plans.add(w.getMessage());
      }
    }
    return plans;
  }

  private static String oneTriggerPlan(Statement sql, String update, int rows) throws SQLException {
    sql.clearWarnings();
    assertThat(sql.executeUpdate(update)).as(update).isEqualTo(rows);
    List<String> plans = triggerPlans(sql);
    assertThat(plans).as("the plan of the trigger's logging statement for: %s", update).hasSize(1);
    return plans.get(0);
  }
}

package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.TestPostgres;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The database refuses, for plain-SQL writers too, the documents the server could not carry to clients
 * (V6__guard_documents.sql), with an error naming the rule; and accepts everything up to the documented limits.
 */
class DocumentGuardsIT {
  private static DSLContext sql;

  @BeforeAll
  static void database() {
    sql = DSL.using(TestPostgres.newDatabase().dataSource(), SQLDialect.POSTGRES);
  }

  /** {"n": {"n": ... {}}}: {@code depth} levels, counted as the README's limit counts them. */
  private static String nested(int depth) {
    return "{\"n\": ".repeat(depth - 1) + "{}" + "}".repeat(depth - 1);
  }

  private static void insert(String id, String json) {
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('guards', 'note', ?, ?::jsonb)",
        id, json);
  }

  private static void assertRefused(Runnable write, String constraint) {
    assertThatThrownBy(write::run).isInstanceOfSatisfying(DataAccessException.class, e -> {
      assertThat(e.sqlState()).isEqualTo("23514");
      assertThat(e.getMessage()).contains(constraint);
    });
  }

  @Test
  void conflictDataIsNullOrAnObject() {
    insert("conflicted", "{\"t\": 1}");
    assertRefused(() -> sql.execute("UPDATE entity SET conflict_data = 'null'::jsonb WHERE entity_id = 'conflicted'"),
        "entity_conflict_data_is_object");
    assertRefused(() -> sql.execute("UPDATE entity SET conflict_data = '[1]'::jsonb WHERE entity_id = 'conflicted'"),
        "entity_conflict_data_is_object");
    sql.execute("UPDATE entity SET conflict_data = '{\"conflict_id\": \"x\"}'::jsonb WHERE entity_id = 'conflicted'");
    sql.execute("UPDATE entity SET conflict_data = NULL WHERE entity_id = 'conflicted'");
  }

  @Test
  void dataNestsAtMostThe32DocumentedLevels() {
    insert("at-the-limit", nested(32));
    insert("lists-at-the-limit", "{\"l\": " + "[".repeat(31) + "]".repeat(31) + "}");
    assertRefused(() -> insert("one-too-deep", nested(33)), "entity_data_fits");
    assertRefused(() -> insert("lists-one-too-deep", "{\"l\": " + "[".repeat(32) + "]".repeat(32) + "}"),
        "entity_data_fits");
    assertRefused(() -> insert("far-too-deep", nested(200)), "entity_data_fits");
    assertRefused(() -> sql.execute("UPDATE entity SET data = ?::jsonb WHERE entity_id = 'at-the-limit'",
        nested(40)), "entity_data_fits");
  }

  @Test
  void dataTakesAtMostOneMebibyteAsText() {
    // {"text": "…"} as jsonb text: 12 bytes around the string.
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('guards', 'note', 'largest', "
        + "jsonb_build_object('text', repeat('x', 1048576 - 12)))");
    assertRefused(() -> sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('guards', "
        + "'note', 'too-large', jsonb_build_object('text', repeat('x', 1048576 - 11)))"), "entity_data_fits");
  }
}

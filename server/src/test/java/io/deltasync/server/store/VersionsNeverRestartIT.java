package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An entity created again after its change-log rows are gone continues above every version it had, so a client
 * holding one of them (clients apply a change only if its row_version is greater) sees the new entity
 * (V11__versions_never_restart.sql). Plain SQL throughout, as another service or a clean-up job would write it.
 */
class VersionsNeverRestartIT {
  private static DSLContext sql;

  @BeforeAll
  static void database() {
    sql = DSL.using(TestPostgres.newDatabase().dataSource(), SQLDialect.POSTGRES);
  }

  private static void create(String id) {
    sql.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('marks', 'note', ?, '{}')", id);
  }

  private static void update(String id) {
    sql.execute("UPDATE entity SET data = jsonb_build_object('t', row_version) WHERE scope = 'marks' "
        + "AND entity_type = 'note' AND entity_id = ?", id);
  }

  private static long version(String id) {
    return sql.fetchOne("SELECT row_version FROM entity WHERE scope = 'marks' AND entity_type = 'note' "
        + "AND entity_id = ?", id).get(0, Long.class);
  }

  /** The highest version any client may have seen: the change log's, the physical delete's included. */
  private static long highestLogged(String id) {
    return sql.fetchOne("SELECT max(row_version) FROM change_log WHERE scope = 'marks' AND entity_type = 'note' "
        + "AND entity_id = ?", id).get(0, Long.class);
  }

  private static void forgetHistory(String id) {
    sql.execute("DELETE FROM change_log WHERE scope = 'marks' AND entity_type = 'note' AND entity_id = ?", id);
  }

  @Test
  void createdAgainAfterItsHistoryWasDeletedContinuesAboveIt() {
    create("again");
    update("again");
    update("again");
    sql.execute("DELETE FROM entity WHERE entity_id = 'again'");  // logged as a delete at version 4
    long held = highestLogged("again");
    assertThat(held).isEqualTo(4);
    forgetHistory("again");

    create("again");

    assertThat(version("again")).isGreaterThan(held);
    assertThat(highestLogged("again")).isEqualTo(version("again"));
  }

  @Test
  void manyKeysCleanedUpInOneStatementEachKeepTheirOwnMark() {
    for (int i = 0; i < 20; i++) {
      create("bulk-" + i);
      for (int u = 0; u < i; u++) {
        update("bulk-" + i);
      }
    }
    sql.execute("DELETE FROM entity WHERE entity_id LIKE 'bulk-%'");
    sql.execute("DELETE FROM change_log WHERE entity_id LIKE 'bulk-%'");

    for (int i = 0; i < 20; i++) {
      create("bulk-" + i);
      // created at 1, i updates, the physical delete: the client may hold version i + 2
      assertThat(version("bulk-" + i)).as("bulk-" + i).isEqualTo(i + 3);
    }
  }

  @Test
  void historyRemovedTwiceKeepsTheHigherMark() {
    create("twice");
    update("twice");
    update("twice");
    sql.execute("DELETE FROM entity WHERE entity_id = 'twice'");  // 4
    forgetHistory("twice");
    create("twice");  // 5
    sql.execute("DELETE FROM entity WHERE entity_id = 'twice'");  // 6
    forgetHistory("twice");

    create("twice");

    assertThat(version("twice")).isEqualTo(7);
  }

  @Test
  void purgedTombstoneWhoseHistoryIsGoneStillCountsItsVersion() {
    create("purged");
    update("purged");
    sql.execute("UPDATE entity SET is_deleted = true WHERE entity_id = 'purged'");  // the tombstone, version 3
    // Tombstone clean-up: the physical delete is not logged, and the history goes too.
    sql.transaction(cfg -> {
      DSLContext tx = DSL.using(cfg);
      tx.execute("SELECT set_config('deltasync.purging', 'on', true)");
      tx.execute("DELETE FROM entity WHERE entity_id = 'purged'");
      tx.execute("DELETE FROM change_log WHERE entity_id = 'purged'");
    });

    create("purged");

    assertThat(version("purged")).isEqualTo(4);
  }

  @Test
  void truncatedChangeLogKeepsEveryKeysMark() {
    DSLContext other = DSL.using(TestPostgres.newDatabase().dataSource(), SQLDialect.POSTGRES);
    other.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('marks', 'note', 'cut', '{}')");
    other.execute("UPDATE entity SET data = '{\"a\": 1}' WHERE entity_id = 'cut'");
    other.execute("DELETE FROM entity WHERE entity_id = 'cut'");  // 3
    other.execute("TRUNCATE change_log");

    other.execute("INSERT INTO entity (scope, entity_type, entity_id, data) VALUES ('marks', 'note', 'cut', '{}')");

    assertThat(other.fetchOne("SELECT row_version FROM entity WHERE entity_id = 'cut'").get(0, Long.class))
        .isEqualTo(4);
  }
}

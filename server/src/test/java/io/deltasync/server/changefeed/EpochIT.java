package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.error.DeltaSyncException;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.TestPostgres;
import java.util.List;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/** A database restored into another cluster: old positions are shifted below new ones and old cursors resync. */
class EpochIT {
  @Test
  void changeLogAheadOfTheClusterStartsANewEpochAndKeepsOrder() {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    long epoch = store.ensureEpoch();
    assertThat(store.ensureEpoch()).as("nothing to do on a healthy database").isEqualTo(epoch);

    sql.execute("insert into entity (scope, entity_type, entity_id) values ('s', 'note', 'old-1'), "
        + "('s', 'note', 'old-2')");
    // What pg_restore into a younger cluster looks like: logged transaction ids far beyond the cluster's counter,
    // and a history floor (after a clean-up) among them.
    sql.execute("update change_log set tx_id = tx_id + 1000000000000");
    sql.execute("update sync_epoch set history_floor_tx_id = (select min(tx_id) from change_log), "
        + "history_floor_change_id = (select min(change_id) from change_log)");
    Cursor beforeRestore = new Cursor(epoch, 1000000000000L, 1);

    long newEpoch = store.ensureEpoch();

    assertThat(newEpoch).isNotEqualTo(epoch);
    assertThat(store.epoch()).isEqualTo(newEpoch);
    ChangeFeed feed = new ChangeFeed(store, newEpoch);
    assertThatThrownBy(() -> feed.resolve(beforeRestore.encode(), "cursor"))
        .isInstanceOfSatisfying(DeltaSyncException.class, e -> assertThat(e.status().getMessage())
            .startsWith("resync required"));

    sql.execute("insert into entity (scope, entity_type, entity_id) values ('s', 'note', 'new-1')");
    // Read from the start on purpose, past the floor's check (the feed refuses reads below the floor): what the
    // shift kept, in order.
    List<io.deltasync.v1.Change> changes = store.readChanges(Position.START, 10,
        ChangeFilter.of(List.of(), List.of("s"))).changes().stream().map(feed::withCursor).toList();
    assertThat(changes).extracting(c -> c.getEntity().getEntityId())
        .containsExactly("old-1", "old-2", "new-1");
    // The floor moved with the log: a cursor of the new epoch resumes, it is not sent to resync for ever.
    Cursor afterNew = Cursor.decode(changes.getLast().getCursor()).orElseThrow();
    assertThat(feed.resolve(afterNew.encode(), "cursor").position()).isEqualTo(afterNew.position());
  }

  @Test
  void aReplacedEpochForgetsAcknowledgedCursorsOfTheLostHistory() {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);
    long epoch = store.ensureEpoch();
    sql.execute("insert into client_sync_status (client_id, last_ack_cursor, last_ack_tx_id, last_ack_change_id) "
        + "values ('phone', 'c', 1000000, 5)");

    long next = store.replaceEpoch(epoch);

    assertThat(next).isNotEqualTo(epoch);
    assertThat(sql.fetch("select last_ack_cursor, last_ack_tx_id from client_sync_status where client_id = 'phone'")
        .get(0).intoList()).containsOnlyNulls();
    assertThat(store.replaceEpoch(epoch)).as("a node that noticed later takes the same new epoch").isEqualTo(next);
  }
}

package io.deltasync.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.TestPostgres;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

/** Coalesced client bookkeeping: reports are merged per client, and an acknowledged cursor never moves backwards. */
class ClientStatusIT {
  @Test
  void acksAndSightingsAreCoalescedAndTheCursorNeverMovesBackwards() {
    TestPostgres.TestDatabase database = TestPostgres.newDatabase();
    DSLContext sql = DSL.using(database.dataSource(), SQLDialect.POSTGRES);
    SyncStore store = new SyncStore(sql);

    store.recordSeen("phone-1");
    for (int i = 1; i <= 100; i++) {
      store.recordAck("phone-1", "cursor-" + i, new Position(10, i));
      store.recordAck("phone-2", "cursor-" + i, new Position(10, i));
    }
    store.recordAck("phone-1", "cursor-old", new Position(10, 3));  // late and out of order: ignored

    var status = store.clientStatus("phone-1").orElseThrow();
    assertThat(status.lastAckCursor()).isEqualTo("cursor-100");
    assertThat(status.lastAck()).isEqualTo(new Position(10, 100));
    assertThat(status.lastSeenAt()).isNotNull();
    assertThat(sql.fetchCount(sql.selectFrom("client_sync_status"))).isEqualTo(2);
    assertThat(store.clientStatus("phone-2").orElseThrow().lastAckCursor()).isEqualTo("cursor-100");

    // An older ack arriving after the newer one was written does not move the stored cursor back.
    store.recordAck("phone-1", "cursor-50", new Position(10, 50));
    assertThat(store.clientStatus("phone-1").orElseThrow().lastAckCursor()).isEqualTo("cursor-100");
    store.recordAck("phone-1", "cursor-next", new Position(11, 1));
    assertThat(store.clientStatus("phone-1").orElseThrow().lastAck()).isEqualTo(new Position(11, 1));

    // A sighting alone keeps the cursor.
    store.recordSeen("phone-1");
    assertThat(store.clientStatus("phone-1").orElseThrow().lastAckCursor()).isEqualTo("cursor-next");
  }
}

package io.deltasync.sdk.sqlite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.sdk.EntityKey;
import io.deltasync.sdk.OutboxEntry;
import io.deltasync.sdk.StoredEntity;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteLocalStoreTest {
  private static final EntityKey KEY = new EntityKey("s", "inspection", "gate-1");

  @TempDir
  Path dir;

  private static Delta delta(String id) {
    return Delta.newBuilder().setDeltaId(id).setScope(KEY.scope()).setEntityType(KEY.entityType())
        .setEntityId(KEY.entityId()).setOperation(Operation.OPERATION_CREATE).build();
  }

  private static Struct exact() {
    // A number no double round trip through JSON text would keep as written: bytes keep it exactly.
    return Struct.newBuilder().putFields("n", Value.newBuilder().setNumberValue(0.1 + 0.2).build()).build();
  }

  @Test
  void writesSurviveClosingAndReopeningTheFileInWalMode() throws Exception {
    Path file = dir.resolve("store.db");
    try (SqliteLocalStore store = SqliteLocalStore.open(file)) {
      store.inTransaction(tx -> {
        tx.putEntity(new StoredEntity(KEY, Entity.newBuilder().setRowVersion(3).build(), exact(), false, true));
        tx.append(new OutboxEntry(0, delta("d-1"), false, false, 0));
        tx.append(new OutboxEntry(0, delta("d-2"), true, false, 0));
        tx.putSetting("cursor", "c-9");
        return null;
      });
    }
    try (Connection raw = DriverManager.getConnection("jdbc:sqlite:" + file);
        ResultSet rs = raw.createStatement().executeQuery("PRAGMA journal_mode")) {
      rs.next();
      assertThat(rs.getString(1)).isEqualToIgnoringCase("wal");
    }
    try (SqliteLocalStore store = SqliteLocalStore.open(file)) {
      store.inTransaction(tx -> {
        StoredEntity row = tx.entity(KEY).orElseThrow();
        assertThat(row.serverVersion()).isEqualTo(3);
        assertThat(row.localData()).isEqualTo(exact());
        assertThat(tx.outbox()).extracting(OutboxEntry::deltaId).containsExactly("d-1", "d-2");
        assertThat(tx.pendingFor(KEY)).extracting(OutboxEntry::chained).containsExactly(false, true);
        assertThat(tx.setting("cursor")).isEqualTo("c-9");
        return null;
      });
    }
  }

  @Test
  void aFailedTransactionLeavesNothingBehind() {
    try (SqliteLocalStore store = SqliteLocalStore.open(dir.resolve("rollback.db"))) {
      assertThatThrownBy(() -> store.inTransaction(tx -> {
        tx.append(new OutboxEntry(0, delta("d-1"), false, false, 0));
        tx.putEntity(new StoredEntity(KEY, null, exact(), false, true));
        throw new IllegalStateException("the app died half-way");
      })).hasMessage("the app died half-way");
      store.inTransaction(tx -> {
        assertThat(tx.outbox()).isEmpty();
        assertThat(tx.entity(KEY)).isEmpty();
        return null;
      });
    }
  }
}

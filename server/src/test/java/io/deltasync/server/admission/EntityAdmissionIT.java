package io.deltasync.server.admission;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import com.google.rpc.RetryInfo;
import io.deltasync.server.conflict.ConflictPolicies;
import io.deltasync.server.database.Database;
import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.server.write.WriteService;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The lock convoy the reliability suite found with 50 clients (docs/reliability.md): pushes queued behind a hot
 * entity's row lock each held a pool connection, so a push of an unrelated entity found the pool empty and was
 * answered SERVER_BUSY. With per-entity admission they wait in the server, holding no connection.
 *
 * <p>The hot entity's row lock is held by the test's own connection (outside the server's pool, pool size 2), so the
 * first push on it stays inside its transaction for as long as the test wants.
 */
class EntityAdmissionIT {
  private TestPostgres.TestDatabase db;
  private Database database;
  private final ExecutorService pushes = Executors.newVirtualThreadPerTaskExecutor();

  @BeforeEach
  void open() throws Exception {
    db = TestPostgres.newDatabase();
    database = Database.open(new Database.Settings(Optional.of(db.url()), db.user(), db.password(),
        Path.of("unused"), 2, Duration.ofSeconds(30)));
  }

  @AfterEach
  void close() throws Exception {
    pushes.shutdownNow();
    database.close();
  }

  private WriteService writes(WriteAdmission admission) {
    WriteService writes = new WriteService(new SyncStore(database.dsl()), 256 * 1024, 1_000,
        new ConflictPolicies(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS, Map.of(), true), Duration.ofSeconds(2),
        Clock.systemUTC(), 4 * 1024 * 1024, () -> { });
    writes.admitWith(admission);
    return writes;
  }

  @Test
  void pushesQueuedBehindAHotEntityLeaveThePoolToOtherEntities() throws Exception {
    // The production default; the bound is never reached here (the test releases the row lock first).
    WriteAdmission admission = new WriteAdmission(1_024, Duration.ofSeconds(120), () -> false);
    WriteService writes = writes(admission);
    assertThat(writes.push("setup", List.of(create("hot", doc("v", "0")))).getFirst().getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

    try (Connection holder = db.dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (Statement lock = holder.createStatement()) {
        lock.execute("select 1 from entity where entity_id = 'hot' for update");
      }
      CompletableFuture<DeltaResult> first = push(writes, "a", update("hot", 1, doc("v", "a")));
      await("the first push waits for the row lock inside its transaction", () -> lockWaiters() == 1);
      CompletableFuture<DeltaResult> second = push(writes, "b", update("hot", 1, doc("v", "b")));
      CompletableFuture<DeltaResult> third = push(writes, "c", update("hot", 1, doc("v", "c")));
      // Without admission the second and third hold (or wait for) the pool's other connection inside PostgreSQL.
      await("two more pushes of the hot entity are queued", () -> lockWaiters() + admission.waiting() >= 3
          || lockWaiters() == 2);

      DeltaResult unrelated = push(writes, "d", create("cold", doc("v", "d"))).get(120, TimeUnit.SECONDS);

      assertThat(unrelated.getStatus()).as("a push of another entity while the hot one is locked: %s", unrelated)
          .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(admission.waiting()).isEqualTo(2);
      holder.rollback();
      for (CompletableFuture<DeltaResult> queued : List.of(first, second, third)) {
        assertThat(queued.get(120, TimeUnit.SECONDS).getStatus()).isIn(DeltaStatus.DELTA_STATUS_APPLIED,
            DeltaStatus.DELTA_STATUS_CONFLICT);
      }
    }
    try (Connection sql = db.dataSource().getConnection(); Statement s = sql.createStatement();
        ResultSet rows = s.executeQuery("select row_version from entity where entity_id = 'hot'")) {
      rows.next();
      assertThat(rows.getLong(1)).as("each of the three updates applied once (last write wins)").isEqualTo(4);
    }
  }

  @Test
  void aPushThatWaitsPastTheBoundIsToldNotNowAndWritesNothing() throws Exception {
    WriteAdmission admission = new WriteAdmission(1_024, Duration.ofMillis(200), () -> false);
    WriteService writes = writes(admission);
    writes.push("setup", List.of(create("hot", doc("v", "0"))));

    try (Connection holder = db.dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (Statement lock = holder.createStatement()) {
        lock.execute("select 1 from entity where entity_id = 'hot' for update");
      }
      CompletableFuture<DeltaResult> first = push(writes, "a", update("hot", 1, doc("v", "a")));
      await("the first push waits for the row lock inside its transaction", () -> lockWaiters() == 1);

      List<DeltaResult> refused = writes.push("b", List.of(create("other", doc("v", "b")),
          update("hot", 1, doc("v", "b"))));

      assertThat(refused).allSatisfy(result -> {
        assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
        assertThat(result.getError().getCode()).isEqualTo(Code.RESOURCE_EXHAUSTED_VALUE);
        assertThat(result.getError().getDetailsList()).anySatisfy(detail -> {
          assertThat(detail.is(com.google.rpc.ErrorInfo.class)).isTrue();
          assertThat(detail.unpack(com.google.rpc.ErrorInfo.class).getReason()).isEqualTo("SERVER_BUSY");
        });
        assertThat(result.getError().getDetailsList()).anyMatch(detail -> detail.is(RetryInfo.class));
      });
      assertThat(admission.refusedBusy()).isEqualTo(1);
      holder.rollback();
      assertThat(first.get(120, TimeUnit.SECONDS).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    }
    try (Connection sql = db.dataSource().getConnection(); Statement s = sql.createStatement();
        ResultSet rows = s.executeQuery("select count(*) from entity where entity_id = 'other'")) {
      rows.next();
      assertThat(rows.getLong(1)).as("the refused batch wrote nothing").isZero();
    }
    assertThat(writes.push("b", List.of(create("other", doc("v", "b")))).getFirst().getStatus())
        .as("the same push once the entity is free").isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
  }

  private CompletableFuture<DeltaResult> push(WriteService writes, String client, io.deltasync.v1.Delta delta) {
    return CompletableFuture.supplyAsync(() -> writes.push(client, List.of(delta)).getFirst(), pushes);
  }

  private int lockWaiters() throws Exception {
    try (Connection sql = db.dataSource().getConnection(); Statement s = sql.createStatement();
        ResultSet rows = s.executeQuery("select count(*) from pg_stat_activity where datname = current_database() "
            + "and application_name = 'deltasync' and wait_event_type = 'Lock'")) {
      rows.next();
      return rows.getInt(1);
    }
  }

  /** Waits for a condition the test needs before its next step; a guard against a hang, never a timing check. */
  static void await(String what, Check condition) throws Exception {
    long guard = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!condition.holds()) {
      if (System.nanoTime() > guard) {
        throw new AssertionError("not reached within the guard: " + what);
      }
      Thread.sleep(20);
    }
  }

  /** A condition that may query the database. */
  interface Check {
    boolean holds() throws Exception;
  }
}

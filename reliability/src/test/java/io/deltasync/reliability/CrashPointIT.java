package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.sdk.EntityKey;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash points: the server dies after the database committed a push and before the reply left (the test-only
 * {@code DELTASYNC_FAULT_HALT_AFTER_COMMIT} hook, see io.deltasync.server.faults.CrashPoint), or in the middle of a
 * batch's transaction (SIGKILL while PostgreSQL shows the batch's transaction writing). The retry must get the
 * original result, never a second write.
 */
@Tag("reliability")
class CrashPointIT {
  private static final String MARKER = "crash-here";
  private static final Duration GUARD = Duration.ofSeconds(120);

  @TempDir
  Path dir;
  private PostgresProcess postgres;
  private ServerProcess server;

  @BeforeEach
  void start() throws Exception {
    postgres = PostgresProcess.start(dir.resolve("pg"));
    server = new ServerProcess("crash", postgres, Chaos.logs().resolve("crash-" + System.nanoTime()),
        Map.of("DELTASYNC_FAULT_HALT_AFTER_COMMIT", MARKER));
    server.start();
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
    postgres.close();
  }

  @Test
  void anSdkWriteWhoseAcknowledgementDiedWithTheServerIsAnsweredWithItsFirstResultOnRetry() throws Exception {
    History history = new History();
    try (ClientNode node = new ClientNode("phone", List.of("s"), dir.resolve("phone.db"), server.port(), history, 1)) {
      node.open();
      await("live", node::synced);
      node.client().create("note", "s", "plain", doc("v", "1"));
      await("plain acknowledged", node::synced);

      // The create of this entity commits, then the server halts before answering.
      node.client().create("note", "s", MARKER + "-1", doc("v", "1"));
      assertThat(server.awaitExit()).as("the crash point halted the server").isEqualTo(137);
      assertThat(node.client().pendingCount()).as("the write was never acknowledged").isEqualTo(1);
      assertThat(changes("s", MARKER + "-1")).as("but it was committed").isEqualTo(1);
      String deltaId = node.client().outbox().getFirst().delta().getDeltaId();

      server.environment("DELTASYNC_FAULT_HALT_AFTER_COMMIT", null);
      server.start();
      await("the retry was answered", node::synced);

      List<DeltaResult> answers = history.events().stream()
          .filter(e -> e instanceof History.Answered a && a.result().getDeltaId().equals(deltaId))
          .map(e -> ((History.Answered) e).result()).toList();
      assertThat(answers).singleElement().satisfies(r -> {
        assertThat(r.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(r.getReplayed()).as("answered from the idempotency record").isTrue();
        assertThat(r.getEntity().getRowVersion()).isEqualTo(1);
      });
      assertThat(changes("s", MARKER + "-1")).as("applied once").isEqualTo(1);
      assertThat(node.client().get(new EntityKey("s", "note", MARKER + "-1")).orElseThrow().serverVersion())
          .isEqualTo(1);
    }
  }

  @Test
  void aBatchWhoseReplyDiedWithTheServerIsAnsweredWithTheFirstResultsOnRetry() throws Exception {
    List<Delta> deltas = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      deltas.add(create("batch", i == 49 ? MARKER + "-batch-" + i : "batch-" + i));
    }
    PushRequest request = PushRequest.newBuilder().setClientId("batcher").addAllDeltas(deltas).build();
    ManagedChannel channel = channel();
    try {
      StatusRuntimeException lost = catchThrowableOfType(StatusRuntimeException.class,
          () -> SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).push(request));
      assertThat(lost.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(server.awaitExit()).isEqualTo(137);
      assertThat(changesInScope("batch")).as("the batch committed").isEqualTo(50);

      server.environment("DELTASYNC_FAULT_HALT_AFTER_COMMIT", null);
      server.start();
      PushResponse retry = pushWithRetry(channel, request);
      assertThat(retry.getResultsList()).hasSize(50).allSatisfy(r -> {
        assertThat(r.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        assertThat(r.getReplayed()).isTrue();
        assertThat(r.getEntity().getRowVersion()).isEqualTo(1);
      });
      assertThat(changesInScope("batch")).as("nothing applied twice").isEqualTo(50);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aBatchCutMidwayBySigkillIsAllOrNothingAndItsRetryAppliesEachDeltaOnce() throws Exception {
    server.environment("DELTASYNC_FAULT_HALT_AFTER_COMMIT", null);
    server.close();
    server.start();
    ManagedChannel channel = channel();
    int cuts = 0;
    try {
      for (int attempt = 0; attempt < 5 && cuts == 0; attempt++) {
        String scope = "cut-" + attempt;
        List<Delta> deltas = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
          deltas.add(create(scope, "e-" + i));
        }
        PushRequest request = PushRequest.newBuilder().setClientId("cutter").addAllDeltas(deltas).build();
        CompletableFuture<PushResponse> call = CompletableFuture.supplyAsync(() ->
            SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS).push(request));
        // Kill the server while PostgreSQL shows a write transaction of it in progress: the batch is cut mid-way.
        boolean cut = false;
        while (!call.isDone()) {
          if (writingTransactions() > 0) {
            server.kill();
            cut = true;
            break;
          }
        }
        if (cut) {
          cuts++;
          assertThat(call).failsWithin(Duration.ofSeconds(60));
          long committed = changesInScope(scope);
          assertThat(committed).as("a batch is one transaction: all or nothing").isIn(0L, 500L);
          server.start();
        }
        PushResponse retry = pushWithRetry(channel, request);
        assertThat(retry.getResultsList()).hasSize(500).allSatisfy(r -> {
          assertThat(r.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
          assertThat(r.getEntity().getRowVersion()).isEqualTo(1);
        });
        assertThat(changesInScope(scope)).as("each delta applied once").isEqualTo(500);
        assertThat(appliedTwice()).isZero();
      }
      assertThat(cuts).as("the kill landed inside a batch transaction at least once").isPositive();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private PushResponse pushWithRetry(ManagedChannel channel, PushRequest request) throws InterruptedException {
    Instant guard = Instant.now().plus(GUARD);
    while (true) {
      try {
        return SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).push(request);
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || Instant.now().isAfter(guard)) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  private ManagedChannel channel() {
    return ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
  }

  private static Delta create(String scope, String id) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope(scope).setOperation(Operation.OPERATION_CREATE).setData(doc("v", id)).build();
  }

  private long changes(String scope, String entityId) throws SQLException {
    return count("select count(*) from change_log where scope = ? and entity_id = ?", scope, entityId);
  }

  private long changesInScope(String scope) throws SQLException {
    return count("select count(*) from change_log where scope = ?", scope);
  }

  private long appliedTwice() throws SQLException {
    return count("select count(*) from (select 1 from change_log where delta_id is not null"
        + " group by client_id, delta_id having count(*) > 1) twice");
  }

  private long writingTransactions() throws SQLException {
    return count("select count(*) from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid()");
  }

  private long count(String sql, String... parameters) throws SQLException {
    try (Connection connection = postgres.connect(); PreparedStatement statement = connection.prepareStatement(sql)) {
      for (int i = 0; i < parameters.length; i++) {
        statement.setString(i + 1, parameters[i]);
      }
      try (ResultSet rows = statement.executeQuery()) {
        rows.next();
        return rows.getLong(1);
      }
    }
  }

  static Struct doc(String key, String value) {
    return Struct.newBuilder().putFields(key, Value.newBuilder().setStringValue(value).build()).build();
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    Instant guard = Instant.now().plus(GUARD);
    while (!condition.getAsBoolean()) {
      assertThat(Instant.now()).as("still waiting for: " + what).isBefore(guard);
      Thread.sleep(50);
    }
  }
}

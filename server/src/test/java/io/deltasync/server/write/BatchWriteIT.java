package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A pushed batch is one transaction with a verdict per delta: order within the batch, one delta refused by the
 * database rejected alone, idempotent replay of whole and partial batches, concurrent overlapping batches.
 */
class BatchWriteIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = DeltaSyncServerExtension.withDefaultPolicy(
      ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  private static List<DeltaResult> push(String clientId, List<Delta> deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addAllDeltas(deltas).build())
        .getResultsList();
  }

  private static Delta inScope(Delta delta, String scope) {
    return delta.toBuilder().setScope(scope).build();
  }

  private static long changes(String scope) {
    return server.sql().fetchCount(server.sql().selectFrom("change_log").where("scope = ?", scope));
  }

  @Test
  void deltasOfOneBatchApplyInOrderAndCommitInOneTransaction() {
    String scope = "order";
    List<Delta> batch = List.of(
        inScope(create("a", doc("v", "1")), scope),
        inScope(update("a", 1, doc("v", "2")), scope),
        inScope(update("a", 2, doc("v", "3")), scope),
        inScope(delete("a", 3), scope),
        inScope(create("a", doc("v", "again")).toBuilder().setBaseRowVersion(4).build(), scope),
        inScope(create("b", doc("v", "1")), scope));
    List<DeltaResult> results = push("phone-order", batch);

    assertThat(results).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results).extracting(r -> r.getEntity().getRowVersion()).containsExactly(1L, 2L, 3L, 4L, 5L, 1L);
    assertThat(results.get(4).getEntity().getData()).isEqualTo(doc("v", "again"));
    assertThat(server.sql().fetchValue("select count(distinct tx_id) from change_log where scope = ?", scope))
        .as("the whole batch is one transaction").isEqualTo(1L);
    assertThat(changes(scope)).isEqualTo(6);
  }

  @Test
  void aDeltaTheDatabaseRefusesIsRejectedAloneAndTheOther49Apply() {
    // A constraint another service put on the table: the validator cannot know it, only the database can refuse.
    server.sql().execute("alter table entity add constraint test_no_forbidden_field check (not data ? 'forbidden')");
    try {
      String scope = "one-bad";
      List<Delta> batch = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        batch.add(inScope(create("n" + i, doc(i == 17 ? "forbidden" : "title", "note " + i)), scope));
      }
      List<DeltaResult> results = push("phone-bad", batch);

      assertThat(results).hasSize(50);
      DeltaResult bad = results.get(17);
      assertThat(bad.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
      assertThat(bad.getError().getCode()).isEqualTo(Code.INVALID_ARGUMENT.getNumber());
      assertThat(bad.getError().getMessage()).contains("23514");
      for (int i = 0; i < 50; i++) {
        if (i != 17) {
          assertThat(results.get(i).getStatus()).as("delta %d", i).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        }
      }
      assertThat(changes(scope)).isEqualTo(49);
      assertThat(server.sql().fetchCount(server.sql().selectFrom("applied_delta")
          .where("client_id = 'phone-bad' and delta_id = ?", batch.get(17).getDeltaId())))
          .as("a refused delta leaves no idempotency record: once fixed, the same id may apply").isZero();

      // The refused delta is not remembered: after the constraint is gone, the same delta applies.
      server.sql().execute("alter table entity drop constraint test_no_forbidden_field");
      DeltaResult retried = push("phone-bad", List.of(batch.get(17))).get(0);
      assertThat(retried.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(retried.getReplayed()).isFalse();
    } finally {
      server.sql().execute("alter table entity drop constraint if exists test_no_forbidden_field");
    }
  }

  @Test
  void aRetriedBatchIsAnsweredFromTheFirstResultsWholeOrInPart() {
    String scope = "replay";
    List<Delta> batch = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      batch.add(inScope(create("n" + i, doc("v", "created")), scope));
    }
    for (int i = 0; i < 25; i++) {
      batch.add(inScope(update("n" + i, 1, doc("v", "updated")), scope));
    }

    // The connection dropped after only the first 20 deltas reached the server (the client split its batch, or the
    // stream broke): they were applied, but the client never saw the results.
    List<DeltaResult> firstPart = push("phone-replay", batch.subList(0, 20));
    assertThat(firstPart).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);

    // It retries the whole batch with the same delta_ids: the first 20 are answered, the rest applied, once each.
    List<DeltaResult> retried = push("phone-replay", batch);
    assertThat(retried).hasSize(50);
    assertThat(retried).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    for (int i = 0; i < 50; i++) {
      assertThat(retried.get(i).getReplayed()).as("delta %d replayed", i).isEqualTo(i < 20);
      assertThat(retried.get(i).getDeltaId()).isEqualTo(batch.get(i).getDeltaId());
    }
    for (int i = 0; i < 20; i++) {
      assertThat(retried.get(i).toBuilder().setReplayed(false).build()).isEqualTo(firstPart.get(i));
    }
    assertThat(changes(scope)).isEqualTo(50);

    // The whole response lost: the same batch again is answered entirely from the recorded results.
    List<DeltaResult> again = push("phone-replay", batch);
    assertThat(again).extracting(DeltaResult::getReplayed).containsOnly(true);
    for (int i = 0; i < 50; i++) {
      assertThat(again.get(i).toBuilder().setReplayed(false).build())
          .isEqualTo(retried.get(i).toBuilder().setReplayed(false).build());
    }
    assertThat(changes(scope)).isEqualTo(50);

    // And on the Sync stream, the same ids are answered the same way.
    try (StreamClient stream = new StreamClient(server.channel())) {
      stream.hello("phone-replay", "", Subscription.newBuilder().setEntityType("unwatched").build());
      stream.push("again", batch.toArray(Delta[]::new));
      assertThat(stream.awaitResults("again").getResultsList()).extracting(DeltaResult::getReplayed)
          .containsOnly(true);
    }
    assertThat(changes(scope)).isEqualTo(50);
  }

  @Test
  void concurrentOverlappingBatchesFromEightClientsConvergeWithOneWinnerPerCompareAndSet() throws Exception {
    String scope = "race";
    int entities = 20;
    List<Delta> creates = new ArrayList<>();
    for (int i = 0; i < entities; i++) {
      creates.add(inScope(create("n" + i, doc("v", "0")), scope));
    }
    assertThat(push("setup", creates)).extracting(DeltaResult::getStatus)
        .containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);

    int clients = 8;
    long seed = System.nanoTime();
    System.out.println("BatchWriteIT concurrent seed: " + seed);
    Random random = new Random(seed);
    List<List<Delta>> batches = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      List<Delta> batch = new ArrayList<>();
      for (int i = 0; i < entities; i++) {
        batch.add(inScope(update("n" + i, 1, doc("v", "client-" + c)), scope));
      }
      Collections.shuffle(batch, random);  // opposite lock orders: deadlocks, retried by the server
      batches.add(batch);
    }
    ExecutorService threads = Executors.newFixedThreadPool(clients);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<List<DeltaResult>>> futures = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        String clientId = "racer-" + c;
        List<Delta> batch = batches.get(c);
        Callable<List<DeltaResult>> client = () -> {
          start.await();
          // Like a real client: a batch aborted as a whole (it kept deadlocking) is sent again, same delta_ids.
          for (int attempt = 0; ; attempt++) {
            List<DeltaResult> results = push(clientId, batch);
            boolean aborted = results.stream().anyMatch(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED
                && r.getError().getCode() == Code.ABORTED.getNumber());
            if (!aborted || attempt > 20) {
              return results;
            }
          }
        };
        futures.add(threads.submit(client));
      }
      start.countDown();
      Map<String, Integer> winners = new HashMap<>();
      for (Future<List<DeltaResult>> future : futures) {
        for (DeltaResult result : future.get(120, TimeUnit.SECONDS)) {
          assertThat(result.getStatus()).as("%s", result)
              .isIn(DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_CONFLICT);
          if (result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
            assertThat(result.getEntity().getRowVersion()).isEqualTo(2);
            winners.merge(result.getEntity().getEntityId(), 1, Integer::sum);
          } else {
            assertThat(result.getEntity().getRowVersion()).isEqualTo(2);
          }
        }
      }
      for (int i = 0; i < entities; i++) {
        assertThat(winners.get("n" + i)).as("winners for n%d", i).isEqualTo(1);
      }
      assertThat(changes(scope)).isEqualTo(2L * entities);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void theSameDeltaTwiceInOneBatchIsAppliedOnceAndAnsweredTwice() {
    Delta once = inScope(create("twice", doc("v", "1")), "dup");
    List<DeltaResult> results = push("phone-dup", List.of(once, inScope(create("other", doc("v", "1")), "dup"),
        once));
    assertThat(results.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results.get(2).getReplayed()).isTrue();
    assertThat(results.get(2).toBuilder().setReplayed(false).build()).isEqualTo(results.get(0));
    assertThat(changes("dup")).isEqualTo(2);
  }

  @Test
  void theChangeLogTriggerNoLongerNotifiesInTheWriteTransaction() {
    assertThat(server.sql().fetchValue("select count(*) from pg_trigger where tgname = 'change_log_notify'"))
        .isEqualTo(0L);
  }

  @Test
  void plainSqlWritesStillReachLiveStreams() {
    try (StreamClient stream = new StreamClient(server.channel())) {
      stream.hello("watcher", "", Subscription.newBuilder().addScopes("plain").build());
      stream.awaitLive();
      // Another service writes with plain SQL: no deltasync commit wakes the feed, polling finds it.
      server.sql().execute("insert into entity (scope, entity_type, entity_id, data) "
          + "values ('plain', 'note', 'by-sql', '{\"v\": 1}')");
      assertThat(stream.awaitChanges(1)).extracting(c -> c.getEntity().getEntityId()).contains("by-sql");
    }
  }
}

package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Writers racing on one row through the real server: the database's compare-and-set picks exactly one. */
class ConcurrentWritesIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  private static final int WRITERS = 8;

  private DeltaResult push(String clientId, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build())
        .getResults(0);
  }

  /** Starts every task at once (a latch) and returns their results. */
  private static <T> List<T> race(List<Callable<T>> tasks) throws Exception {
    CountDownLatch start = new CountDownLatch(1);
    try (ExecutorService pool = Executors.newFixedThreadPool(tasks.size())) {
      List<Future<T>> futures = new ArrayList<>();
      for (Callable<T> task : tasks) {
        futures.add(pool.submit(() -> {
          start.await();
          return task.call();
        }));
      }
      start.countDown();
      List<T> results = new ArrayList<>();
      for (Future<T> future : futures) {
        results.add(future.get());
      }
      return results;
    }
  }

  @RepeatedTest(3)
  void writersRacingOnOneVersionExactlyOneWins(org.junit.jupiter.api.RepetitionInfo repetition) throws Exception {
    String id = "race-" + repetition.getCurrentRepetition();
    push("setup", create(id, doc("v", "base")));
    List<Callable<DeltaResult>> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      int writer = w;
      writers.add(() -> push("writer-" + writer, update(id, 1, doc("v", "writer " + writer))));
    }

    List<DeltaResult> results = race(writers);

    List<DeltaResult> winners = results.stream().filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED)
        .toList();
    assertThat(winners).hasSize(1);
    assertThat(results.stream().filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_CONFLICT))
        .hasSize(WRITERS - 1)
        .allSatisfy(loser -> {
          assertThat(PushIT.reason(loser)).isEqualTo("VERSION_CONFLICT");
          assertThat(loser.getEntity().getRowVersion()).isEqualTo(2);
        });
    DeltaResult winner = winners.get(0);
    assertThat(winner.getEntity().getRowVersion()).isEqualTo(2);
    assertThat(server.sql().fetchValue("select data->>'v' from entity where entity_id = '" + id + "'"))
        .isEqualTo(winner.getEntity().getData().getFieldsOrThrow("v").getStringValue());
    assertThat(server.sql().fetchCount(server.sql().selectFrom("change_log")
        .where("entity_id = '" + id + "' and operation = 'update'"))).isEqualTo(1);
  }

  @Test
  void clientsRacingToCreateOneIdExactlyOneCreates() throws Exception {
    List<Callable<DeltaResult>> creators = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      int writer = w;
      creators.add(() -> push("creator-" + writer, create("contested", doc("by", "creator " + writer))));
    }

    List<DeltaResult> results = race(creators);

    assertThat(results).filteredOn(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED).hasSize(1);
    assertThat(results).filteredOn(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_CONFLICT)
        .hasSize(WRITERS - 1)
        .allSatisfy(loser -> assertThat(PushIT.reason(loser)).isEqualTo("ENTITY_EXISTS"));
  }
}

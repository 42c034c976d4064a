package io.deltasync.server.conflict;

import static io.deltasync.db.jooq.Tables.CHANGE_LOG;
import static io.deltasync.db.jooq.Tables.CONFLICT;
import static io.deltasync.db.jooq.Tables.ENTITY;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.ListConflictsRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.SyncStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The manual queue does not snowball (issue 10, item 5): queuing a conflict is bookkeeping, not a new version, so
 * one stale writer never makes every other writer's compare-and-set miss, and the entity's conflict summary stays
 * the same size however many conflicts are open.
 */
class ManualQueueBoundedIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL);

  private static final int CLIENTS = 10;
  private static final int STALE_UPDATES = 200;

  private static List<DeltaResult> push(String client, List<io.deltasync.v1.Delta> deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addAllDeltas(deltas).build())
        .getResultsList();
  }

  @Test
  void tenClientsTimesTwoHundredStaleUpdatesQueueWithoutMovingTheEntity() throws Exception {
    push("owner", List.of(Deltas.create("hot", doc("title", "v1"))));
    Entity current = push("owner", List.of(Deltas.update("hot", 1, doc("title", "v2")))).getFirst().getEntity();
    assertThat(current.getRowVersion()).isEqualTo(2);

    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
    try {
      List<Future<List<DeltaResult>>> runs = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        String client = "stale-" + c;
        runs.add(pool.submit(() -> {
          List<DeltaResult> results = new ArrayList<>();
          for (int batch = 0; batch < STALE_UPDATES / 50; batch++) {
            List<io.deltasync.v1.Delta> deltas = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
              deltas.add(Deltas.update("hot", 1, doc("title", client + "-" + batch + "-" + i)));
            }
            results.addAll(push(client, deltas));
          }
          return results;
        }));
      }
      for (Future<List<DeltaResult>> run : runs) {
        for (DeltaResult result : run.get()) {
          assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
          assertThat(result.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
          // Every conflict met the version the clients were racing against, not one made by another conflict.
          assertThat(result.getEntity().getRowVersion()).isEqualTo(2);
          assertThat(result.getEntity().getConflictData().getFieldsOrThrow("conflict_ids").getListValue()
              .getValuesCount()).isBetween(1, 10);
        }
      }
    } finally {
      pool.shutdownNow();
    }

    int queued = CLIENTS * STALE_UPDATES;
    var row = server.sql().select(ENTITY.ROW_VERSION, ENTITY.SYNC_STATUS,
            org.jooq.impl.DSL.field("octet_length(conflict_data::text)", Integer.class), ENTITY.CONFLICT_DATA)
        .from(ENTITY).where(ENTITY.ENTITY_ID.eq("hot")).fetchSingle();
    assertThat(row.value1()).as("bookkeeping made no new version").isEqualTo(2);
    assertThat(row.value2()).isEqualTo("conflict");
    assertThat(row.value3()).as("conflict_data bytes, bounded whatever the number of open conflicts")
        .isLessThan(2_048);
    assertThat(server.sql().fetchCount(CONFLICT, CONFLICT.ENTITY_ID.eq("hot").and(CONFLICT.RESOLVED_AT.isNull())))
        .isEqualTo(queued);
    assertThat(server.sql().fetchCount(CHANGE_LOG, CHANGE_LOG.ENTITY_ID.eq("hot")))
        .as("one logged change per version, none for bookkeeping").isEqualTo(2);

    // The summary counts them all and names the newest; ListConflicts lists them all, each resolvable as listed.
    Entity seen = push("reader", List.of(Deltas.update("hot", 1, doc("title", "one more")))).getFirst().getEntity();
    assertThat(seen.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_CONFLICT);
    assertThat(seen.getConflictData().getFieldsOrThrow("open_conflicts").getNumberValue()).isEqualTo(queued + 1);
    var ids = seen.getConflictData().getFieldsOrThrow("conflict_ids").getListValue().getValuesList();
    assertThat(ids).hasSize(10);
    assertThat(ids.getLast().getStringValue())
        .isEqualTo(seen.getConflictData().getFieldsOrThrow("conflict_id").getStringValue());
    var firstPage = server.sync().listConflicts(ListConflictsRequest.newBuilder().setScope("team-a").build());
    assertThat(firstPage.getConflictsList()).isNotEmpty()
        .allSatisfy(conflict -> assertThat(conflict.getCurrentRowVersion()).isEqualTo(2));

    // No cascade: a writer holding the current version still applies.
    DeltaResult fresh = push("fresh", List.of(Deltas.update("hot", 2, doc("title", "v3")))).getFirst();
    assertThat(fresh.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(fresh.getEntity().getRowVersion()).isEqualTo(3);
    assertThat(fresh.getEntity().getData()).isEqualTo(doc("title", "v3"));
  }
}

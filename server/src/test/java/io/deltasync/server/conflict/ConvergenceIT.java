package io.deltasync.server.conflict;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.Timestamps;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Property: many clients making random edits (updates of random fields, deletes, creates again) to a few entities,
 * concurrently and from stale copies, with clocks that are slow, right, or far ahead, under an automatic policy;
 * each applies the results of its pushes and the changes it pulls, keeping the higher row_version. At the end every
 * client's copy equals the server's, byte for byte in jsonb — while another service writes the same rows with plain
 * SQL (integers, exact integers up to 2^53, decimals), under every policy. A failing seed reproduces the same edits
 * (not the same interleaving).
 */
class ConvergenceIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final int CLIENTS = 5;
  private static final int ENTITIES = 3;
  private static final int EDITS_PER_CLIENT = 40;

  /** One client's local copy. */
  private static final class Replica {
    final String clientId;
    final String scope;
    final Map<String, Entity> copy = new HashMap<>();
    String cursor = "";

    Replica(String clientId, String scope) {
      this.clientId = clientId;
      this.scope = scope;
    }

    /** Applying a change or a result is idempotent: only a higher row_version replaces what the copy has. */
    void apply(Entity entity) {
      Entity held = copy.get(entity.getEntityId());
      if (held == null || held.getRowVersion() < entity.getRowVersion()) {
        copy.put(entity.getEntityId(), entity);
      }
    }

    void pullAll() {
      PullResponse page;
      do {
        page = server.sync().pull(PullRequest.newBuilder().addScopes(scope).setCursor(cursor).build());
        for (Change change : page.getChangesList()) {
          apply(change.getEntity());
        }
        cursor = page.getNextCursor();
      } while (page.getHasMore());
    }
  }

  @ParameterizedTest(name = "{0}, seed {1}")
  @CsvSource({"LAST_WRITE_WINS, 1", "LAST_WRITE_WINS, 2", "CLIENT_WINS, 3", "SERVER_WINS, 4",
      "OPERATIONAL_TRANSFORM, 5", "MANUAL, 6"})
  void everyCopyEndsEqualToTheServer(String policyName, long seed) throws Exception {
    ConflictPolicy policy = ConflictPolicy.valueOf("CONFLICT_POLICY_" + policyName);
    String scope = "converge-" + seed;
    List<Delta> creates = new ArrayList<>();
    for (int e = 0; e < ENTITIES; e++) {
      creates.add(Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId("e" + e).setScope(scope).setOperation(Operation.OPERATION_CREATE)
          .setData(Struct.getDefaultInstance()).build());
    }
    server.sync().push(PushRequest.newBuilder().setClientId("setup").addAllDeltas(creates).build());

    List<Replica> replicas = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      Replica replica = new Replica("client-" + c, scope);
      replica.pullAll();
      replicas.add(replica);
    }
    try (ExecutorService pool = Executors.newFixedThreadPool(CLIENTS + 1)) {
      List<Future<?>> runs = new ArrayList<>();
      // Another service writes the same rows with plain SQL meanwhile: integers, large exact integers, decimals.
      SplittableRandom sqlRandom = new SplittableRandom(seed * 1000 + 999);
      runs.add(pool.submit(() -> {
        for (int i = 0; i < EDITS_PER_CLIENT / 2; i++) {
          server.sql().execute("update entity set data = data || jsonb_build_object('f' || ?::int, ?::numeric) "
              + "where scope = ? and entity_id = ? and not is_deleted", sqlRandom.nextInt(3),
              switch (sqlRandom.nextInt(3)) {
                case 0 -> "9007199254740991";
                case 1 -> Integer.toString(sqlRandom.nextInt(1000));
                default -> "1.5";
              }, scope, "e" + sqlRandom.nextInt(ENTITIES));
          Thread.sleep(sqlRandom.nextInt(20));
        }
        return null;
      }));
      for (int c = 0; c < CLIENTS; c++) {
        Replica replica = replicas.get(c);
        SplittableRandom random = new SplittableRandom(seed * 1000 + c);
        runs.add(pool.submit(() -> {
          edit(replica, random, policy);
          return null;
        }));
      }
      for (Future<?> run : runs) {
        run.get();
      }
    }

    Map<String, Entity> serverState = new HashMap<>();
    Replica observer = new Replica("observer", scope);
    observer.pullAll();
    serverState.putAll(observer.copy);
    assertThat(serverState).hasSize(ENTITIES);
    for (String id : serverState.keySet()) {
      long version = server.sql().fetchSingle("select row_version from entity where scope = ? and entity_id = ?",
          scope, id).get(0, Long.class);
      assertThat(serverState.get(id).getRowVersion()).as("seed %d: the change log ends at the row", seed)
          .isEqualTo(version);
    }
    for (Replica replica : replicas) {
      replica.pullAll();
      for (var entry : serverState.entrySet()) {
        Entity mine = replica.copy.get(entry.getKey());
        Entity theirs = entry.getValue();
        assertThat(mine.getRowVersion()).as("seed %d, %s, %s", seed, replica.clientId, entry.getKey())
            .isEqualTo(theirs.getRowVersion());
        assertThat(mine.getIsDeleted()).as("seed %d, %s, %s", seed, replica.clientId, entry.getKey())
            .isEqualTo(theirs.getIsDeleted());
        if (!theirs.getIsDeleted()) {
          assertThat(mine.getData()).as("seed %d, %s, %s", seed, replica.clientId, entry.getKey())
              .isEqualTo(theirs.getData());
          // Byte for byte in jsonb: the client's copy, written as JSON, is what the database holds.
          assertThat(server.sql().fetchSingle("select ?::jsonb::text = data::text, data::text from entity "
              + "where scope = ? and entity_id = ?", io.deltasync.server.store.Json.toJson(mine.getData()), scope,
              entry.getKey()).get(0, Boolean.class))
              .as("seed %d, %s, %s: %s", seed, replica.clientId, entry.getKey(),
                  io.deltasync.server.store.Json.toJson(mine.getData())).isTrue();
        }
      }
    }
  }

  private static void edit(Replica replica, SplittableRandom random, ConflictPolicy policy) {
    for (int i = 0; i < EDITS_PER_CLIENT; i++) {
      String id = "e" + random.nextInt(ENTITIES);
      Entity held = replica.copy.get(id);
      Delta.Builder delta = Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
          .setEntityId(id).setScope(replica.scope).setBaseRowVersion(held.getRowVersion()).setConflictPolicy(policy);
      int roll = random.nextInt(10);
      if (held.getIsDeleted()) {
        delta.setOperation(Operation.OPERATION_CREATE).setData(Struct.newBuilder()
            .putFields("f0", Value.newBuilder().setStringValue(replica.clientId + "#" + i).build()));
      } else if (roll == 0) {
        delta.setOperation(Operation.OPERATION_DELETE);
      } else {
        Struct.Builder data = held.getData().toBuilder();
        data.putFields("f" + random.nextInt(3), random.nextInt(3) == 0
            ? Value.newBuilder().setNumberValue(random.nextInt(100)).build()
            : Value.newBuilder().setStringValue(replica.clientId + "#" + i).build());
        if (random.nextInt(6) == 0) {
          data.removeFields("f" + random.nextInt(3));
        }
        delta.setOperation(Operation.OPERATION_UPDATE).setData(data);
      }
      // Clocks: right, an hour slow, or a day fast (capped by the server).
      long skewMillis = switch (random.nextInt(3)) {
        case 0 -> 0;
        case 1 -> -3_600_000;
        default -> 86_400_000;
      };
      delta.setClientModifiedAt(Timestamps.fromMillis(System.currentTimeMillis() + skewMillis));
      DeltaResult result = server.sync().push(PushRequest.newBuilder().setClientId(replica.clientId)
          .addDeltas(delta).build()).getResults(0);
      if (result.getStatus() != DeltaStatus.DELTA_STATUS_REJECTED) {
        replica.apply(result.getEntity());
      }
      if (random.nextInt(4) == 0) {
        replica.pullAll();
      }
    }
  }
}

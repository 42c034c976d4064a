package io.deltasync.server.conflict;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Two and ten clients updating one entity at the same moment, from the same base version, under each policy. */
class ConcurrentConflictsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static DeltaResult push(String client, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  private static Delta update(String id, ConflictPolicy policy, Struct data) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope("concurrent").setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(1).setData(data)
        .setConflictPolicy(policy).build();
  }

  private static Struct field(Struct base, String key, String value) {
    return base.toBuilder().putFields(key, Value.newBuilder().setStringValue(value).build()).build();
  }

  @ParameterizedTest(name = "{0} clients, {1}")
  @CsvSource({"2, LAST_WRITE_WINS", "10, LAST_WRITE_WINS", "2, CLIENT_WINS", "10, CLIENT_WINS",
      "2, SERVER_WINS", "10, SERVER_WINS"})
  void concurrentEditsFromOneBase(int clients, String policyName) throws Exception {
    ConflictPolicy policy = ConflictPolicy.valueOf("CONFLICT_POLICY_" + policyName);
    String id = "c-" + clients + "-" + policyName;
    Struct base = field(Struct.getDefaultInstance(), "title", "base");
    push("setup", Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note")
        .setEntityId(id).setScope("concurrent").setOperation(Operation.OPERATION_CREATE).setData(base).build());

    CountDownLatch start = new CountDownLatch(1);
    List<DeltaResult> results = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(clients)) {
      List<Future<DeltaResult>> futures = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        String client = "client-" + c;
        // Each client edits its own field: field-level last-write-wins must keep every one of them.
        Delta delta = update(id, policy, field(base, "field-" + c, "by " + client));
        futures.add(pool.submit(() -> {
          start.await();
          return push(client, delta);
        }));
      }
      start.countDown();
      for (Future<DeltaResult> future : futures) {
        results.add(future.get());
      }
    }

    var row = server.sql().fetchSingle("select row_version, data::text from entity where entity_id = ?", id);
    long finalVersion = row.get(0, Long.class);
    List<DeltaResult> applied = results.stream().filter(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED)
        .toList();
    // However they raced, every applied write made exactly one version, and the newest result is the final state.
    assertThat(applied).extracting(r -> r.getEntity().getRowVersion()).doesNotHaveDuplicates();
    assertThat(finalVersion).isEqualTo(1 + applied.size());
    DeltaResult newest = results.stream().max(Comparator.comparing(r -> r.getEntity().getRowVersion()))
        .orElseThrow();
    assertThat(newest.getEntity().getRowVersion()).isEqualTo(finalVersion);
    assertThat(server.sql().fetchCount(server.sql().selectFrom("change_log").where("entity_id = ?", id)))
        .isEqualTo(1 + applied.size());
    Struct finalData = newest.getEntity().getData();
    switch (policy) {
      case CONFLICT_POLICY_SERVER_WINS -> {
        assertThat(applied).hasSize(1);
        assertThat(finalData.getFieldsCount()).isEqualTo(2);
      }
      case CONFLICT_POLICY_CLIENT_WINS -> {
        assertThat(applied).hasSize(clients);
        assertThat(finalData.getFieldsCount()).as("the last writer's document, whole").isEqualTo(2);
      }
      case CONFLICT_POLICY_LAST_WRITE_WINS -> {
        assertThat(applied).hasSize(clients);
        for (int c = 0; c < clients; c++) {
          assertThat(finalData.getFieldsMap()).containsEntry("field-" + c,
              Value.newBuilder().setStringValue("by client-" + c).build());
        }
      }
      default -> throw new AssertionError(policy);
    }
  }
}

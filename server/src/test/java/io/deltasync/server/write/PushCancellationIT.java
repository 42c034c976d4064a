package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A unary Push whose caller gave up (deadline passed, or cancelled) stops applying its batch: what was applied
 * stays (a retry by delta_id answers it), the rest is not attempted.
 */
class PushCancellationIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = DeltaSyncServerExtension.withDefaultPolicy(
      io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  @Test
  void aBatchPastItsDeadlineStopsWhereItWas() throws Exception {
    List<Delta> creates = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      creates.add(create("c-" + i, doc("v", "0")));
    }
    server.sync().push(PushRequest.newBuilder().setClientId("creator").addAllDeltas(creates).build());
    // Two runs of plain deltas (each entity once per run), so two set-based statements.
    List<Delta> updates = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      updates.add(update("c-" + i, 1, doc("v", "1")));
    }
    for (int i = 0; i < 50; i++) {
      updates.add(update("c-" + i, 2, doc("v", "2")));
    }
    // Another service holds the row of the 11th delta, so the batch waits there past the caller's deadline.
    try (Connection blocker = server.database().dataSource().getConnection()) {
      blocker.setAutoCommit(false);
      try (Statement statement = blocker.createStatement()) {
        statement.execute("select 1 from entity where entity_id = 'c-10' for update");
      }
      Thread releaser = Thread.ofPlatform().start(() -> {
        try {
          Thread.sleep(4_000);
          blocker.rollback();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      SyncServiceGrpc.SyncServiceBlockingStub impatient = SyncServiceGrpc.newBlockingStub(server.channel())
          .withDeadlineAfter(1_500, TimeUnit.MILLISECONDS);
      assertThatThrownBy(() -> impatient.push(PushRequest.newBuilder().setClientId("impatient")
          .addAllDeltas(updates).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
      releaser.join();
    }
    // The server finishes the statement it was waiting in -- the first run's set-based write, the delta held up
    // with the rest of its run (docs/protocol.md, "Atomicity") -- then stops: the second run was never attempted.
    List<Long> versions = List.of();
    for (int attempt = 0; attempt < 100; attempt++) {
      versions = server.sql().fetch("select row_version from entity where entity_type = 'note' "
          + "and entity_id like 'c-%' order by (substr(entity_id, 3))::int").getValues(0, Long.class);
      if (versions.get(10) >= 2) {
        break;
      }
      Thread.sleep(100);
    }
    assertThat(versions).as("the first run applied, the second not attempted").hasSize(50).containsOnly(2L);

    // Pushed again with the same delta ids, the batch completes, each delta exactly once.
    var results = server.sync().push(PushRequest.newBuilder().setClientId("impatient").addAllDeltas(updates)
        .build()).getResultsList();
    assertThat(results.subList(0, 50)).allMatch(r -> r.getReplayed());
    assertThat(results.subList(50, 100)).noneMatch(r -> r.getReplayed())
        .allMatch(r -> r.getStatus() == io.deltasync.v1.DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(server.sql().fetch("select row_version from entity where entity_id like 'c-%'")
        .getValues(0, Long.class)).containsOnly(3L);
  }
}

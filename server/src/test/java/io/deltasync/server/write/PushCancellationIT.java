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
    List<Delta> updates = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      updates.add(update("c-" + i, 1, doc("v", "1")));
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
    // The server finishes the delta it was waiting on, then stops: the rest was never applied.
    List<Long> versions = List.of();
    for (int attempt = 0; attempt < 100; attempt++) {
      versions = server.sql().fetch("select row_version from entity where entity_type = 'note' "
          + "and entity_id like 'c-%' order by (substr(entity_id, 3))::int").getValues(0, Long.class);
      if (versions.get(10) == 2) {
        break;
      }
      Thread.sleep(100);
    }
    assertThat(versions.subList(0, 11)).as("applied before the deadline passed").containsOnly(2L);
    assertThat(versions.subList(11, 50)).as("not attempted after it").containsOnly(1L);

    // Pushed again with the same delta ids, the batch completes, each delta exactly once.
    var results = server.sync().push(PushRequest.newBuilder().setClientId("impatient").addAllDeltas(updates)
        .build()).getResultsList();
    assertThat(results.subList(0, 11)).allMatch(r -> r.getReplayed());
    assertThat(results.subList(11, 50)).noneMatch(r -> r.getReplayed());
    assertThat(server.sql().fetch("select row_version from entity where entity_id like 'c-%'")
        .getValues(0, Long.class)).containsOnly(2L);
  }
}

package io.deltasync.server.ops;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.StatusQueries;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.GetStatusResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import io.deltasync.v1.Subscription;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** GetStatus reports the server, this node's streams and one client, at bounded cost. */
class StatusIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_MANUAL);

  private static GetStatusResponse status(String clientId) {
    return server.sync().getStatus(GetStatusRequest.newBuilder().setClientId(clientId).build());
  }

  @Test
  void theServerItsSchemaItsStreamsByPhaseAndTheWatermarkAge() throws Exception {
    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("status-phone", "", Subscription.newBuilder().addScopes("status").build());
      phone.awaitLive();

      GetStatusResponse status = status("");
      assertThat(status.getDatabaseReachable()).isTrue();
      assertThat(status.getSchemaVersion()).isEqualTo(server.sql().fetchOne(
          "select version from flyway_schema_history order by installed_rank desc limit 1").get(0, String.class));
      assertThat(status.getSessionsByPhaseMap()).containsEntry("live", 1).containsEntry("awaiting_hello", 0)
          .containsEntry("initial_state", 0).containsEntry("catching_up", 0);
      assertThat(status.getServerVersion()).isNotEmpty();
      assertThat(status.getServerCursor()).isNotEmpty();
    }

    // A transaction holding back the watermark shows in its age.
    try (Connection open = server.database().dataSource().getConnection()) {
      open.setAutoCommit(false);
      try (Statement statement = open.createStatement()) {
        statement.execute("select pg_current_xact_id()");
      }
      GetStatusResponse held = status("");
      assertThat(held.getWatermarkAge().getSeconds() * 1_000_000_000L + held.getWatermarkAge().getNanos())
          .isPositive();
      open.rollback();
    }
  }

  @Test
  void aClientsPendingChangesAndOpenConflicts() {
    var created = server.sync().push(PushRequest.newBuilder().setClientId("conflicted")
        .addDeltas(create("c1", doc("v", "1")).toBuilder().setScope("status-c")).build()).getResults(0);
    var stale = server.sync().push(PushRequest.newBuilder().setClientId("conflicted")
        .addDeltas(update("c1", created.getEntity().getRowVersion() + 5, doc("v", "2")).toBuilder()
            .setScope("status-c")).build()).getResults(0);
    assertThat(stale.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(stale.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_QUEUED);
    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("conflicted", "", Subscription.newBuilder().addScopes("status-c").build());
      phone.awaitLive();
    }

    GetStatusResponse status = status("conflicted");
    assertThat(status.getClient().getOpenConflicts()).isEqualTo(1);
    // Never acknowledged anything: everything in the log is pending, counted exactly.
    long logged = server.sql().fetchOne("select count(*) from change_log").get(0, Long.class);
    assertThat(status.getClient().getPendingChanges()).isEqualTo(logged);
    assertThat(status.getClient().getPendingChangesEstimated()).isFalse();
  }

  @Test
  void pastTheExactLimitPendingChangesAreEstimatedAndSaySo() {
    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("far-behind", "", Subscription.newBuilder().addScopes("status-far").build());
      phone.awaitLive();
    }
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) "
        + "select 'status-bulk', 'note', 'b' || g, '{}' from generate_series(1, ?) g",
        StatusQueries.EXACT_PENDING_LIMIT + 1);

    GetStatusResponse status = status("far-behind");
    assertThat(status.getClient().getPendingChangesEstimated()).isTrue();
    assertThat(status.getClient().getPendingChanges()).isGreaterThan(StatusQueries.EXACT_PENDING_LIMIT);
  }
}

package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A delta whose statement runs into statement_timeout (a row lock another service holds too long) is answered
 * busy, RESOURCE_EXHAUSTED / SERVER_BUSY: nothing wrong with the client's data, nothing wrong with the server.
 */
class StatementTimeoutIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_DB_STATEMENT_TIMEOUT_SECONDS", "1", "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
          .withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  @Test
  void aLockHeldPastTheStatementTimeoutIsBusyNotInternal() throws Exception {
    server.sync().push(PushRequest.newBuilder().setClientId("app")
        .addDeltas(Deltas.create("hot", Deltas.doc("v", "0"))).build());
    List<DeltaResult> results;
    try (Connection other = server.database().dataSource().getConnection()) {
      other.setAutoCommit(false);
      other.createStatement().execute("select * from entity where entity_id = 'hot' for update");
      results = server.sync().push(PushRequest.newBuilder().setClientId("app")
          .addDeltas(Deltas.create("cold", Deltas.doc("v", "1")))
          .addDeltas(Deltas.update("hot", 1, Deltas.doc("v", "2"))).build()).getResultsList();
      other.rollback();
    }
    DeltaResult blocked = results.get(1);
    assertThat(blocked.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(blocked.getError().getCode()).as(blocked.getError().getMessage())
        .isEqualTo(Code.RESOURCE_EXHAUSTED_VALUE);
    assertThat(blocked.getError().getDetailsList()).anySatisfy(any ->
        assertThat(any.unpack(ErrorInfo.class).getReason()).isEqualTo("SERVER_BUSY"));
    // Retried once the lock is gone, the batch applies.
    List<DeltaResult> retried = server.sync().push(PushRequest.newBuilder().setClientId("app")
        .addDeltas(Deltas.create("cold", Deltas.doc("v", "1")))
        .addDeltas(Deltas.update("hot", 1, Deltas.doc("v", "2"))).build()).getResultsList();
    assertThat(retried).allMatch(r -> r.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED);
  }
}

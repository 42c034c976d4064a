package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncError;
import io.deltasync.v1.SyncResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Expensive requests are bounded (issue 10, item 7): a hello or a Pull naming more scopes or subscriptions than
 * documented is refused as too big before it reaches the database, one at the limits is served, and scope-filtered
 * catch-up is served by an index on the scope instead of a walk of the whole log tail.
 */
class RequestLimitsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static List<String> scopes(String prefix, int count) {
    return IntStream.range(0, count).mapToObj(i -> prefix + i).toList();
  }

  private static ErrorInfo info(com.google.rpc.Status status) throws Exception {
    return status.getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).findFirst().orElseThrow()
        .unpack(ErrorInfo.class);
  }

  private static List<String> fields(com.google.rpc.Status status) throws Exception {
    return status.getDetailsList().stream().filter(d -> d.is(BadRequest.class)).findFirst().orElseThrow()
        .unpack(BadRequest.class).getFieldViolationsList().stream().map(BadRequest.FieldViolation::getField).toList();
  }

  @Test
  void aPullWithFortyThousandScopesIsRefusedAsTooBig() throws Exception {
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> server.sync().pull(PullRequest.newBuilder().addAllScopes(scopes("s", 40_000)).build()));
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    assertThat(status.getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
    assertThat(info(status).getReason()).isEqualTo("LIMIT_EXCEEDED");
    assertThat(fields(status)).containsExactly("scopes");
    assertThat(status.getMessage()).contains("count: 40000 (expected: <= 1000");
  }

  @Test
  void aPullAtTheLimitsIsServed() {
    // 100 types × 1,000 scopes: as an IN list per type this was 100,000 values in one statement (past the driver's
    // 32,767 bind values, so jOOQ inlined them all as literals); now one array per type, 200 bind values.
    List<String> types = IntStream.range(0, 100).mapToObj(i -> "t" + i).toList();
    PullResponse page = server.sync().pull(PullRequest.newBuilder().addAllEntityTypes(types)
        .addAllScopes(scopes("s", 1_000)).build());
    assertThat(page.getNextCursor()).isNotEmpty();
  }

  @Test
  void aHelloWithFortyThousandScopesIsRefusedAsTooBigAndAHelloAtTheLimitsIsServed() throws Exception {
    try (StreamClient client = new StreamClient(server.channel())) {
      client.hello("many-scopes", "", Subscription.newBuilder().addAllScopes(scopes("s", 40_000)).build());
      SyncError error = client.await(SyncResponse::hasError, "error for a hello with 40,000 scopes").getError();
      assertThat(error.getStatus().getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
      assertThat(info(error.getStatus()).getReason()).isEqualTo("LIMIT_EXCEEDED");
      assertThat(fields(error.getStatus())).containsExactly("hello.subscriptions");

      List<Subscription> atLimits = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        atLimits.add(Subscription.newBuilder().setEntityType("t" + i).addAllScopes(scopes("s" + i + "-", 10))
            .build());
      }
      client.hello("many-scopes", "", atLimits.toArray(Subscription[]::new));
      client.awaitLive();
    }
    try (StreamClient client = new StreamClient(server.channel())) {
      List<Subscription> tooMany = new ArrayList<>();
      for (int i = 0; i < 101; i++) {
        tooMany.add(Subscription.newBuilder().setEntityType("t" + i).build());
      }
      client.hello("many-subscriptions", "", tooMany.toArray(Subscription[]::new));
      SyncError error = client.await(SyncResponse::hasError, "error for a hello with 101 subscriptions").getError();
      assertThat(info(error.getStatus()).getReason()).isEqualTo("LIMIT_EXCEEDED");
      assertThat(error.getStatus().getMessage()).contains("count: 101 (expected: <= 100)");
    }
  }

  @Test
  void scopeFilteredCatchUpReadsOnlyThePageOfTheScopesRows() {
    // A log of 20,000 changes in other scopes and 5,000 in the wanted one, written with plain SQL.
    server.sql().execute("INSERT INTO entity (scope, entity_type, entity_id, data) "
        + "SELECT 'busy-' || (i % 50), 'note', 'n' || i, '{}'::jsonb FROM generate_series(1, 20000) i");
    server.sql().execute("INSERT INTO entity (scope, entity_type, entity_id, data) "
        + "SELECT 'wanted', 'note', 'w' || i, '{}'::jsonb FROM generate_series(1, 5000) i");
    server.sql().execute("ANALYZE change_log");
    // The shape of the catch-up read of a stream subscribed to one scope (SyncStore.readChanges): the scope's rows
    // after the cursor, in log order, one page. Served in order by (scope, tx_id, change_id) and stopped after the
    // page; without that index PostgreSQL walked the whole log tail, or fetched and sorted the scope's whole history.
    String plan = String.join("\n", server.sql().fetch("EXPLAIN SELECT * FROM change_log "
            + "WHERE (tx_id, change_id) > (0, 0) AND tx_id < 9000000000000000000 AND scope = 'wanted' "
            + "ORDER BY tx_id, change_id LIMIT 51")
        .map(row -> row.get(0, String.class)));
    assertThat(plan).contains("Index Scan using change_log_scope_position").doesNotContain("Sort")
        .doesNotContain("Seq Scan");
  }
}

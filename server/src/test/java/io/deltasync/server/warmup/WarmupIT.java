package io.deltasync.server.warmup;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Subscription;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The start-up warm-up runs the write path for real (its creates and updates are applied and committed, into
 * temporary tables) and leaves no trace: no row and no dead tuple in the real tables (their heaps stay empty), no
 * real sequence value used, no temporary table left on a pooled connection, nothing on a stream; the server serves
 * normally after. The delivery warm-up is off here, so that what the tables hold is this warm-up's alone.
 */
class WarmupIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(
      config -> config.withScale(config.scale().withWarmup(true, 100, Duration.ofMinutes(2))
          .withDeliveryWarmup(Duration.ZERO, 1)));

  private long rows(String table) {
    return ((Number) server.sql().fetchValue("select count(*) from " + table)).longValue();
  }

  private long bytes(String query) {
    return ((Number) server.sql().fetchValue(query)).longValue();
  }

  @Test
  void theWarmupWroteForRealAndLeftNothingVisible() {
    Warmup.Result warmed = server.server().warmup();
    assertThat(warmed.rounds()).isEqualTo(100);
    assertThat(warmed.pushes()).isEqualTo(200);
    // Its creates and updates went through the whole write path (statements, triggers): 8 creates and 8 updates a
    // round, two of them stale (resolved by the default conflict policy), all applied and committed.
    assertThat(warmed.applied()).isEqualTo(100 * 16);
    assertThat(warmed.messages()).isPositive();

    for (String table : List.of("entity", "change_log", "applied_delta", "client_sync_status",
        "entity_version_mark", "conflict")) {
      assertThat(rows(table)).as(table).isZero();
      // Rolled-back inserts (the first version of the warm-up) leave dead tuples: the heap is no longer empty.
      assertThat(bytes("select pg_relation_size('public." + table + "')")).as(table + " heap").isZero();
    }
    assertThat(bytes("select count(*) from pg_sequences where schemaname = 'public' and last_value is not null"))
        .as("real sequences used").isZero();
    assertThat(bytes("select count(*) from pg_class where relpersistence = 't'")).as("temporary relations left")
        .isZero();
    assertThat(server.server().degradedChanges()).isZero();

    // A stream over every scope, the warm-up's included, from the beginning: an empty initial state, then live
    // with a real client's write only.
    try (StreamClient everything = new StreamClient(server.channel());
        StreamClient warmupScope = new StreamClient(server.channel())) {
      everything.hello("after-warmup", "", Subscription.getDefaultInstance());
      warmupScope.hello("after-warmup-2", "", Subscription.newBuilder().addScopes(Warmup.SCOPE).build());
      everything.awaitLive();
      warmupScope.awaitLive();
      assertThat(everything.changes()).isEmpty();
      assertThat(warmupScope.changes()).isEmpty();

      everything.push("p1", create("real", doc("title", "a real write")).toBuilder().setScope(Warmup.SCOPE).build());
      assertThat(everything.awaitResults("p1").getResults(0).getStatus())
          .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(warmupScope.awaitChanges(1)).singleElement()
          .satisfies(change -> assertThat(change.getEntity().getEntityId()).isEqualTo("real"));
    }
    assertThat(rows("entity")).isEqualTo(1);
  }
}

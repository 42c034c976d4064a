package io.deltasync.server.warmup;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Subscription;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The start-up warm-up runs the write path for real (its creates are applied) and leaves no trace a client could
 * see: no entity, no change-log row, no idempotency record, nothing on a stream; the server serves normally after.
 */
class WarmupIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(
      config -> config.withScale(config.scale().withWarmup(true, 100, Duration.ofMinutes(2))));

  private long rows(String table) {
    return ((Number) server.sql().fetchValue("select count(*) from " + table)).longValue();
  }

  @Test
  void theWarmupWroteForRealAndLeftNothingVisible() {
    Warmup.Result warmed = server.server().warmup();
    assertThat(warmed.rounds()).isEqualTo(100);
    assertThat(warmed.pushes()).isEqualTo(200);
    // Its creates went through the whole write path (statements, triggers) before being rolled back.
    assertThat(warmed.applied()).isEqualTo(100 * 8);
    assertThat(warmed.messages()).isPositive();

    assertThat(rows("entity")).isZero();
    assertThat(rows("change_log")).isZero();
    assertThat(rows("applied_delta")).isZero();
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

package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ServerConfig;
import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A live stream whose filter matches nothing while the log moves on still learns how far it has got: an empty
 * LIVE batch with the frontier every few heartbeats, so a reconnect does not rescan everything since it went live.
 */
class QuietSubscriberIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withStream(
      new ServerConfig.Stream(Duration.ofSeconds(1), 1_000, Duration.ofMillis(100))));

  @Test
  void aQuietStreamReceivesItsFrontier() {
    try (StreamClient quiet = new StreamClient(server.channel())) {
      quiet.hello("quiet", "", Subscription.newBuilder().addScopes("quiet-scope").build());
      quiet.awaitLive();
      Cursor wentLiveAt = Cursor.decode(quiet.cursor()).orElseThrow();

      for (int i = 0; i < 20; i++) {
        server.sync().push(PushRequest.newBuilder().setClientId("loud")
            .addDeltas(create("loud-" + i, doc("v", "1"))).build());
      }
      Cursor lastLoud = Cursor.decode(server.sync().pull(io.deltasync.v1.PullRequest.newBuilder().setPageSize(100)
          .build()).getNextCursor()).orElseThrow();

      SyncResponse frontier = quiet.await(m -> m.hasChanges() && m.getChanges().getPhase() == SyncPhase.SYNC_PHASE_LIVE
          && m.getChanges().getChangesCount() == 0
          && Cursor.decode(m.getChanges().getCursor()).orElseThrow().compareTo(lastLoud) >= 0,
          "an empty live batch at or past the other scope's writes");
      assertThat(Cursor.decode(frontier.getChanges().getCursor()).orElseThrow()).isGreaterThan(wentLiveAt);
      assertThat(quiet.changes()).as("nothing of the other scope").isEmpty();
    }
  }
}

package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncResponse;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * With several nodes, one notices a failover first and starts a new epoch; every other node must take it up too
 * (end its streams, hand out cursors of the new epoch), not go on serving the old history until it restarts.
 */
class EpochAdoptionIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @Test
  void aNodeTakesUpTheEpochAnotherNodeStarted() {
    long before = server.server().database().dsl().resultQuery("select epoch from sync_epoch").fetchSingle()
        .get(0, Long.class);
    try (StreamClient stream = new StreamClient(server.channel())) {
      stream.hello("watcher", "", Subscription.newBuilder().addScopes("epochs").build());
      stream.awaitLive();
      String oldCursor = stream.cursor();

      // What another node does when it notices the database went back in time (SyncStore.replaceEpoch).
      server.sql().execute("update sync_epoch set epoch = epoch + 1");

      Status end = stream.awaitEnd();
      assertThat(end.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      try (StreamClient again = new StreamClient(server.channel())) {
        again.hello("watcher", oldCursor, Subscription.newBuilder().addScopes("epochs").build());
        SyncResponse welcome = again.await(SyncResponse::hasWelcome, "welcome");
        assertThat(Cursor.decode(welcome.getWelcome().getServerCursor()).orElseThrow().epoch()).isEqualTo(before + 1);
        again.await(SyncResponse::hasResyncRequired, "resync_required");
      }
    }
  }
}

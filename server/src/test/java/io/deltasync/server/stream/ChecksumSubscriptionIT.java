package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.SyncStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncChecksum;
import io.deltasync.v1.SyncChecksumRequest;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A checksum covers exactly what the stream delivers for the scope: a client subscribed to one entity type of a
 * scope that holds others can match it (docs/protocol.md §8), instead of being told its copy is incomplete for ever.
 */
class ChecksumSubscriptionIT {
  private static final String SCOPE = "mixed";

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static Delta of(String type, String id) {
    return create(id, doc("title", id)).toBuilder().setScope(SCOPE).setEntityType(type).build();
  }

  @Test
  void aClientSubscribedToOneTypeOfAScopeGetsAChecksumItsCopyMatches() {
    server.sync().push(PushRequest.newBuilder().setClientId("office")
        .addDeltas(of("note", "n1")).addDeltas(of("note", "n2"))
        .addDeltas(of("task", "t1")).addDeltas(of("task", "t2")).addDeltas(of("task", "t3"))
        .addDeltas(of("invoice", "i1")).build());

    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("phone", "",
          Subscription.newBuilder().setEntityType("note").addScopes(SCOPE).build(),
          // Tasks elsewhere only: they must not count for this scope.
          Subscription.newBuilder().setEntityType("task").addScopes("elsewhere").build());
      phone.awaitLive();
      phone.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope(SCOPE))
          .build());
      SyncChecksum checksum = phone.await(SyncResponse::hasChecksum, "checksum").getChecksum();

      // The client's copy: every entity it received for the scope, at its highest version.
      Map<String, Change> copy = new TreeMap<>();
      for (Change change : phone.changes()) {
        if (change.getEntity().getScope().equals(SCOPE)) {
          copy.merge(change.getEntity().getEntityType() + "/" + change.getEntity().getEntityId(), change,
              (a, b) -> a.getEntity().getRowVersion() >= b.getEntity().getRowVersion() ? a : b);
        }
      }
      List<SyncStore.EntityVersion> mine = copy.values().stream()
          .filter(change -> !change.getEntity().getIsDeleted())
          .map(change -> new SyncStore.EntityVersion(change.getEntity().getEntityType(),
              change.getEntity().getEntityId(), change.getEntity().getRowVersion()))
          .sorted(Comparator.comparing(SyncStore.EntityVersion::entityType)
              .thenComparing(SyncStore.EntityVersion::entityId))
          .toList();

      assertThat(mine).extracting(SyncStore.EntityVersion::entityId).containsExactly("n1", "n2");
      assertThat(checksum.getEntityCount()).isEqualTo(2);
      assertThat(checksum.getDigest()).isEqualTo(io.deltasync.server.changefeed.ScopeChecksum.digest(mine));
    }

    // A stream that also subscribes to every type of the scope gets every type counted.
    try (StreamClient desktop = new StreamClient(server.channel())) {
      desktop.hello("desktop", "", Subscription.newBuilder().setEntityType("note").addScopes(SCOPE).build(),
          Subscription.newBuilder().addScopes(SCOPE).build());
      desktop.awaitLive();
      desktop.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope(SCOPE))
          .build());
      assertThat(desktop.await(SyncResponse::hasChecksum, "checksum").getChecksum().getEntityCount()).isEqualTo(6);
    }
  }

  /**
   * Issue 10, item 7: the checksum is read from the entities, not rebuilt from the scope's whole change log, so its
   * cost does not grow with history, and history cleaned up behind the client's position does not change it.
   */
  @Test
  void aChecksumDoesNotRebuildTheScopesHistory() {
    String scope = "trimmed";
    PushRequest.Builder creates = PushRequest.newBuilder().setClientId("office");
    for (String id : List.of("a", "b", "c")) {
      creates.addDeltas(create(id, doc("title", id)).toBuilder().setScope(scope).build());
    }
    server.sync().push(creates.build());
    server.sync().push(PushRequest.newBuilder().setClientId("office")
        .addDeltas(io.deltasync.server.testing.Deltas.update("a", 1, doc("title", "a2")).toBuilder().setScope(scope))
        .build());

    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("trimmer", "", Subscription.newBuilder().addScopes(scope).build());
      phone.awaitLive();
      // What a clean-up of history the client is past does (plain SQL, as an operator's job would).
      server.sql().deleteFrom(io.deltasync.db.jooq.Tables.CHANGE_LOG)
          .where(io.deltasync.db.jooq.Tables.CHANGE_LOG.SCOPE.eq(scope)).execute();
      phone.send(SyncRequest.newBuilder().setChecksumRequest(SyncChecksumRequest.newBuilder().setScope(scope))
          .build());
      SyncChecksum checksum = phone.await(SyncResponse::hasChecksum, "checksum").getChecksum();
      assertThat(checksum.getEntityCount()).isEqualTo(3);
      assertThat(checksum.getDigest()).isEqualTo(io.deltasync.server.changefeed.ScopeChecksum.digest(List.of(
          new SyncStore.EntityVersion("note", "a", 2), new SyncStore.EntityVersion("note", "b", 1),
          new SyncStore.EntityVersion("note", "c", 1))));
    }
  }
}

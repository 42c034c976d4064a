package io.deltasync.server.auth;

import static io.deltasync.server.testing.Credentials.claims;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.GetStatusRequest;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A client id belongs to its principal: two principals using one client id are two clients. */
class ClientIdBindingIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET",
          Credentials.SECRET))));

  private static Channel as(String sub) {
    return Credentials.bearer(server.channel(), Credentials.hs256(
        claims(sub, List.of("writer"), List.of("shared-scope")).build()));
  }

  private static DeltaResult push(Channel channel, String clientId, Delta delta) {
    return SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
        .push(PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build()).getResults(0);
  }

  private static Delta create(String id) {
    return Deltas.create(id, Deltas.doc("v", id)).toBuilder().setScope("shared-scope").build();
  }

  @Test
  void theSameDeltaIdUnderTheSameClientIdOfAnotherPrincipalIsAnotherDelta() {
    Delta alices = create("alice-entity");
    // Bob pre-claims Alice's next delta id under her client id: it must not become her result.
    Delta bobsWithAlicesId = create("bob-entity").toBuilder().setDeltaId(alices.getDeltaId()).build();

    DeltaResult bob = push(as("bob"), "phone", bobsWithAlicesId);
    DeltaResult alice = push(as("alice"), "phone", alices);

    assertThat(bob.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(alice.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(alice.getReplayed()).isFalse();
    assertThat(alice.getEntity().getEntityId()).isEqualTo("alice-entity");
    // Alice's own retry is still answered with her first result.
    assertThat(push(as("alice"), "phone", alices).getReplayed()).isTrue();
  }

  @Test
  void aStreamOfAnotherPrincipalWithTheSameClientIdReceivesTheChange() {
    try (StreamClient bob = new StreamClient(as("bob"))) {
      bob.hello("tablet", "");
      bob.awaitLive();

      push(as("alice"), "tablet", create("seen-by-bob"));

      assertThat(bob.awaitChanges(1)).extracting(c -> c.getEntity().getEntityId()).contains("seen-by-bob");
    }
  }

  @Test
  void statusIsPerPrincipal() {
    try (StreamClient bob = new StreamClient(as("bob"))) {
      bob.hello("desk", "");
      bob.awaitLive();
      var sync = SyncServiceGrpc.newBlockingStub(as("bob")).withDeadlineAfter(60, TimeUnit.SECONDS);
      assertThat(sync.getStatus(GetStatusRequest.newBuilder().setClientId("desk").build()).getClient()
          .getClientId()).isEqualTo("desk");
    }
    // Alice never opened "desk": she cannot see (or act as) Bob's client.
    assertThatThrownBy(() -> SyncServiceGrpc.newBlockingStub(as("alice")).withDeadlineAfter(60, TimeUnit.SECONDS)
        .getStatus(GetStatusRequest.newBuilder().setClientId("desk").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }
}

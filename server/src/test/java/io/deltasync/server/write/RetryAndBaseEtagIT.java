package io.deltasync.server.write;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.Code;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.ResolutionOutcome;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two review findings of the write path: an outcome that may only mean "not yet" is not recorded against the delta
 * id, and a base etag is trusted only when it is one the server issued for the entity.
 */
class RetryAndBaseEtagIT {
  private static final String SCOPE = "retry";

  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(ConflictPolicy.CONFLICT_POLICY_LAST_WRITE_WINS);

  private static Struct doc(String a, String b) {
    return Struct.newBuilder().putFields("a", Value.newBuilder().setStringValue(a).build())
        .putFields("b", Value.newBuilder().setStringValue(b).build()).build();
  }

  private static Delta.Builder delta(String id, Operation operation) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope(SCOPE).setOperation(operation);
  }

  private static DeltaResult push(String client, Delta delta) {
    return server.sync().push(PushRequest.newBuilder().setClientId(client).addDeltas(delta).build()).getResults(0);
  }

  @Test
  void anUpdateThatArrivedBeforeItsCreateAppliesWhenRetriedAfterIt() {
    // The client's create and update went out on two connections; the update arrived first.
    Delta update = delta("reordered", Operation.OPERATION_UPDATE).setBaseRowVersion(1).setData(doc("1", "1"))
        .build();
    DeltaResult early = push("laptop", update);
    assertThat(early.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(early.getError().getCode()).isEqualTo(Code.NOT_FOUND.getNumber());

    assertThat(push("laptop", delta("reordered", Operation.OPERATION_CREATE).setData(doc("0", "0")).build())
        .getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

    // The retry (same delta_id, same content) is applied, not answered with the recorded NOT_FOUND.
    DeltaResult retried = push("laptop", update);
    assertThat(retried.getReplayed()).isFalse();
    assertThat(retried.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(retried.getEntity().getRowVersion()).isEqualTo(2);
    assertThat(retried.getEntity().getData()).isEqualTo(doc("1", "1"));
    // And from then on it is answered with that result.
    assertThat(push("laptop", update).getReplayed()).isTrue();
  }

  @Test
  void aBaseEtagThatMatchesNoChangeOfTheEntityIsNotTrustedForItsVersionNumber() {
    DeltaResult created = push("phone", delta("etag", Operation.OPERATION_CREATE).setData(doc("0", "0")).build());
    String realV1 = created.getEntity().getEtag();
    push("tablet", delta("etag", Operation.OPERATION_UPDATE).setBaseRowVersion(1).setData(doc("0", "tablet")).build());
    // Another entity's etag for version 1: the same number, another document.
    String otherEntitysV1 = push("phone", delta("other", Operation.OPERATION_CREATE).setData(doc("x", "x")).build())
        .getEntity().getEtag();
    assertThat(otherEntitysV1).startsWith("1-").isNotEqualTo(realV1);

    // With a base the server cannot vouch for, it cannot tell which fields the client changed: whole documents are
    // compared (this write is the later one), exactly as when the base is no longer in the change log.
    for (String untrusted : new String[] {"1-ffffffffffffffff", otherEntitysV1}) {
      DeltaResult result = push("phone", delta("etag", Operation.OPERATION_UPDATE).setBaseEtag(untrusted)
          .setData(doc("phone " + untrusted, "0")).build());
      assertThat(result.getStatus()).as(untrusted).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      assertThat(result.getResolution().getOutcome()).as(untrusted)
          .isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_CLIENT_WON);
      assertThat(result.getEntity().getData()).isEqualTo(doc("phone " + untrusted, "0"));
      push("tablet", delta("etag", Operation.OPERATION_UPDATE).setBaseRowVersion(result.getEntity().getRowVersion())
          .setData(doc("0", "tablet")).build());
    }

    // The real etag of version 1 is trusted: only field a was the phone's change, b keeps the tablet's.
    DeltaResult trusted = push("phone", delta("etag", Operation.OPERATION_UPDATE).setBaseEtag(realV1)
        .setData(doc("phone", "0")).build());
    assertThat(trusted.getResolution().getOutcome()).isEqualTo(ResolutionOutcome.RESOLUTION_OUTCOME_MERGED);
    assertThat(trusted.getEntity().getData()).isEqualTo(doc("phone", "tablet"));
  }
}

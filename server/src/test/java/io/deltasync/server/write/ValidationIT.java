package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.ObjectSet;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PathElement;
import io.deltasync.v1.TextComponent;
import io.deltasync.v1.TextEdit;
import io.deltasync.v1.PushRequest;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Bad input through the real server: rejected precisely, alone, and nothing else is lost. */
class ValidationIT {
  private static final int MAX_DELTAS = 5;
  private static final int MAX_DATA_BYTES = 2048;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config.withLimits(
      new ServerConfig.Limits(MAX_DELTAS, MAX_DATA_BYTES, 50, 64 * 1024)));

  private static BadRequest badRequest(com.google.rpc.Status status) throws InvalidProtocolBufferException {
    for (var detail : status.getDetailsList()) {
      if (detail.is(BadRequest.class)) {
        return detail.unpack(BadRequest.class);
      }
    }
    throw new AssertionError("no BadRequest in " + status);
  }

  private static String reason(com.google.rpc.Status status) throws InvalidProtocolBufferException {
    for (var detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        return detail.unpack(ErrorInfo.class).getReason();
      }
    }
    throw new AssertionError("no ErrorInfo in " + status);
  }

  @Test
  void aMalformedDeltaIsRejectedAloneAndTheOthersAreApplied() throws Exception {
    Delta good1 = create("ok-1", doc("v", "1"));
    Delta noId = create("bad-1", doc("v", "x")).toBuilder().clearDeltaId().build();
    Delta badScope = create("bad-2", doc("v", "x")).toBuilder().setScope("no spaces allowed").build();
    Delta oversized = create("bad-3", doc("v", "x".repeat(MAX_DATA_BYTES))).toBuilder().build();
    Delta good2 = create("ok-2", doc("v", "2"));

    List<DeltaResult> results = server.sync().push(PushRequest.newBuilder().setClientId("phone-1")
        .addDeltas(good1).addDeltas(noId).addDeltas(badScope).addDeltas(oversized).addDeltas(good2).build())
        .getResultsList();

    assertThat(results).extracting(DeltaResult::getStatus).containsExactly(DeltaStatus.DELTA_STATUS_APPLIED,
        DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED,
        DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results.get(1).getError().getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
    assertThat(reason(results.get(1).getError())).isEqualTo("INVALID_ARGUMENT");
    assertThat(badRequest(results.get(1).getError()).getFieldViolationsList())
        .extracting(BadRequest.FieldViolation::getField).containsExactly("deltas[1].delta_id");
    assertThat(badRequest(results.get(2).getError()).getFieldViolations(0).getField())
        .isEqualTo("deltas[2].scope");
    assertThat(badRequest(results.get(3).getError()).getFieldViolations(0).getDescription())
        .startsWith("size: ").endsWith("(expected: <= " + MAX_DATA_BYTES + ")");
    assertThat(server.sql().fetch("select entity_id from entity where entity_id like 'ok-%' or entity_id like 'bad-%' "
        + "order by entity_id").getValues(0, String.class))
        .containsExactly("ok-1", "ok-2");
  }

  @Test
  void dataOverADocumentedLimitIsRejectedWithReasonLimitExceeded() throws Exception {
    Delta oversized = create("limit-size", doc("v", "x".repeat(MAX_DATA_BYTES)));
    Delta malformedToo = oversized.toBuilder().setScope("no spaces allowed").build();

    List<DeltaResult> results = server.sync().push(PushRequest.newBuilder().setClientId("phone-1")
        .addDeltas(oversized).addDeltas(malformedToo).build()).getResultsList();

    com.google.rpc.Status error = results.get(0).getError();
    assertThat(results.get(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(error.getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
    assertThat(reason(error)).as("the catalogue's reason for a delta bigger than the limits")
        .isEqualTo("LIMIT_EXCEEDED");
    BadRequest.FieldViolation violation = badRequest(error).getFieldViolations(0);
    assertThat(violation.getField()).isEqualTo("deltas[0].data");
    assertThat(violation.getReason()).isEqualTo("LIMIT_EXCEEDED");
    // A delta that is also malformed is INVALID_ARGUMENT; its size violation still says LIMIT_EXCEEDED.
    assertThat(reason(results.get(1).getError())).isEqualTo("INVALID_ARGUMENT");
    assertThat(badRequest(results.get(1).getError()).getFieldViolationsList())
        .extracting(BadRequest.FieldViolation::getField, BadRequest.FieldViolation::getReason)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("deltas[1].scope", ""),
            org.assertj.core.groups.Tuple.tuple("deltas[1].data", "LIMIT_EXCEEDED"));
  }

  @Test
  void editsAreValidatedAndAppliedRatherThanIgnored() throws Exception {
    server.sync().push(PushRequest.newBuilder().setClientId("phone-1").addDeltas(create("edits", doc("v", "1")))
        .build());
    EditOperation setV = EditOperation.newBuilder()
        .setObjectSet(ObjectSet.newBuilder().setKey("v").setValue(Value.newBuilder().setStringValue("2"))).build();
    EditOperation outOfRange = EditOperation.newBuilder().addPath(PathElement.newBuilder().setKey("v"))
        .setText(TextEdit.newBuilder().addComponents(TextComponent.newBuilder().setRetain(2))).build();
    Delta update = Delta.newBuilder(create("edits", doc("v", "x"))).setOperation(Operation.OPERATION_UPDATE)
        .clearData().setBaseRowVersion(1).build();
    List<DeltaResult> results = server.sync().push(PushRequest.newBuilder().setClientId("phone-1")
        .addDeltas(Delta.newBuilder(create("edits-new", doc("v", "1"))).addEdits(setV))
        .addDeltas(update.toBuilder().addEdits(EditOperation.getDefaultInstance()))
        .addDeltas(update.toBuilder().setDeltaId("retain-past-end").addEdits(outOfRange))
        .addDeltas(update.toBuilder().setDeltaId("good-edit").addEdits(setV))
        .build()).getResultsList();

    assertThat(results).extracting(DeltaResult::getStatus).containsExactly(DeltaStatus.DELTA_STATUS_REJECTED,
        DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(badRequest(results.get(0).getError()).getFieldViolations(0).getField()).isEqualTo("deltas[0].edits");
    assertThat(badRequest(results.get(1).getError()).getFieldViolations(0).getField()).isEqualTo("deltas[1].edits[0]");
    assertThat(badRequest(results.get(2).getError()).getFieldViolations(0).getField())
        .isEqualTo("deltas[2].edits[0].text.components[0].retain");
    for (int i = 0; i < 3; i++) {
      assertThat(results.get(i).getError().getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
      assertThat(reason(results.get(i).getError())).isEqualTo("INVALID_ARGUMENT");
    }
    assertThat(results.get(3).getEntity().getData()).isEqualTo(doc("v", "2"));
    assertThat(results.get(3).getEntity().getRowVersion()).isEqualTo(2);
  }

  @Test
  void tooManyDeltasRejectTheRequestWithTheLimitNamed() throws Exception {
    List<Delta> deltas = new ArrayList<>();
    for (int i = 0; i <= MAX_DELTAS; i++) {
      deltas.add(create("many-" + i, doc("v", "1")));
    }
    assertThatThrownBy(() -> server.sync().push(PushRequest.newBuilder().setClientId("phone-1")
        .addAllDeltas(deltas).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          com.google.rpc.Status status = StatusProto.fromThrowable(e);
          assertThat(status.getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
          try {
            assertThat(reason(status)).isEqualTo("LIMIT_EXCEEDED");
            assertThat(badRequest(status).getFieldViolations(0).getField()).isEqualTo("deltas");
          } catch (InvalidProtocolBufferException ex) {
            throw new AssertionError(ex);
          }
          assertThat(status.getMessage()).isEqualTo("deltas: count: 6 (expected: <= 5; split the batch)");
        });
    assertThat(server.sql().fetchCount(server.sql().selectFrom("entity").where("entity_id like 'many-%'")))
        .isZero();
  }

  @Test
  void aMissingClientIdIsInvalidArgument() {
    assertThatThrownBy(() -> server.sync().push(PushRequest.newBuilder().addDeltas(create("x", doc("v", "1")))
        .build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
            assertThat(StatusProto.fromThrowable(e).getMessage()).isEqualTo("client_id: required"));
  }

  @Test
  void aMessageOverTheSizeLimitIsRefusedByGrpcAndTheChannelStaysUsable() {
    Struct big = Struct.newBuilder().putFields("v", Value.newBuilder().setStringValue("x".repeat(100_000)).build())
        .build();
    assertThatThrownBy(() -> server.sync().push(PushRequest.newBuilder().setClientId("phone-1")
        .addDeltas(create("huge", big)).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
            assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED));
    DeltaResult after = server.sync().push(PushRequest.newBuilder().setClientId("phone-1")
        .addDeltas(create("after-huge", doc("v", "1"))).build()).getResults(0);
    assertThat(after.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
  }
}

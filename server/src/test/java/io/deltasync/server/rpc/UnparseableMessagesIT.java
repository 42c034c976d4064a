package io.deltasync.server.rpc;

import static io.deltasync.server.testing.Wire.createDelta;
import static io.deltasync.server.testing.Wire.message;
import static io.deltasync.server.testing.Wire.nestedDocument;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Wire;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Messages protobuf-java cannot parse with its defaults, hand-encoded the way a Go, Swift or JavaScript client may
 * send them, over real Netty: data nested past protobuf-java's default limit of 100 message levels (about 33
 * Struct levels), and a string holding invalid UTF-8 (a JavaScript client cutting an emoji in half). Each is
 * rejected alone with INVALID_ARGUMENT and a reason; nothing ends with UNKNOWN, no batch is lost, no stream dies.
 */
class UnparseableMessagesIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  /** A truncated emoji: the first two bytes of U+1F600's four. */
  private static final byte[] HALF_AN_EMOJI = {'n', 'o', 't', 'e', '-', (byte) 0xF0, (byte) 0x9F};

  private static final MethodDescriptor.Marshaller<byte[]> RAW = Wire.RAW;

  private static <Q, R> MethodDescriptor<byte[], byte[]> raw(MethodDescriptor<Q, R> method) {
    return method.toBuilder(RAW, RAW).build();
  }

  private static PushResponse push(Wire request) throws InvalidProtocolBufferException {
    byte[] response = ClientCalls.blockingUnaryCall(server.channel(), raw(SyncServiceGrpc.getPushMethod()),
        CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), request.toByteArray());
    return PushResponse.parseFrom(response);
  }

  private static String reason(com.google.rpc.Status status) throws InvalidProtocolBufferException {
    for (var detail : status.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        return detail.unpack(ErrorInfo.class).getReason();
      }
    }
    throw new AssertionError("no ErrorInfo in " + status);
  }

  private static List<String> fields(com.google.rpc.Status status) throws InvalidProtocolBufferException {
    for (var detail : status.getDetailsList()) {
      if (detail.is(BadRequest.class)) {
        return detail.unpack(BadRequest.class).getFieldViolationsList().stream()
            .map(v -> v.getField() + ": " + v.getDescription()).toList();
      }
    }
    throw new AssertionError("no BadRequest in " + status);
  }

  @Test
  void theDocumentedNestingLimitIsReachableAndEveryUnparseableDeltaIsRejectedAlone() throws Exception {
    PushResponse response = push(message().string(1, "raw-client")
        .message(2, createDelta("d0", "flat", nestedDocument(1)))
        .message(2, createDelta("d1", "at-the-limit", nestedDocument(32)))
        .message(2, createDelta("d2", "one-too-deep", nestedDocument(33)))
        .message(2, createDelta("d3", "too-deep-for-default-parsers", nestedDocument(40)))
        .message(2, message().string(1, "d4").string(2, "note").bytes(3, HALF_AN_EMOJI).string(4, "team-a")
            .varint(5, 1).message(8, nestedDocument(1)))
        .message(2, createDelta("d5", "far-too-deep", nestedDocument(300)))
        .message(2, createDelta("d6", "after-them", nestedDocument(2))));

    List<DeltaResult> results = response.getResultsList();
    assertThat(results).extracting(DeltaResult::getDeltaId).containsExactly("d0", "d1", "d2", "d3", "d4", "d5",
        "d6");
    assertThat(results).extracting(DeltaResult::getStatus).containsExactly(DeltaStatus.DELTA_STATUS_APPLIED,
        DeltaStatus.DELTA_STATUS_APPLIED, DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED,
        DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_APPLIED);
    for (int i : new int[] {2, 3}) {
      com.google.rpc.Status error = results.get(i).getError();
      assertThat(error.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
      assertThat(fields(error)).singleElement().asString()
          .startsWith("deltas[" + i + "].data: ").contains("deeper than 32 levels");
    }
    // Deeper than even the raised parse limit: the delta cannot be parsed at all, and is rejected as a whole.
    com.google.rpc.Status farTooDeep = results.get(5).getError();
    assertThat(farTooDeep.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(fields(farTooDeep)).singleElement().asString().startsWith("deltas[5]: ").contains("32 levels");
    com.google.rpc.Status utf8 = results.get(4).getError();
    assertThat(utf8.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(fields(utf8)).singleElement().asString().startsWith("deltas[4]: ").contains("UTF-8");

    assertThat(results.get(1).getEntity().getData().toString()).contains("leaf");
    assertThat(server.sql().fetchSingle("select count(*) from entity where entity_id in "
        + "('flat', 'at-the-limit', 'after-them')").get(0, Integer.class)).isEqualTo(3);
  }

  @Test
  void aPushWhoseOwnFieldsCannotBeParsedIsInvalidArgumentNotUnknown() throws Exception {
    assertThatThrownBy(() -> push(message().bytes(1, HALF_AN_EMOJI)
        .message(2, createDelta("e0", "never", nestedDocument(1)))))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains("client_id").contains("UTF-8");
          try {
            assertThat(reason(StatusProto.fromThrowable(e))).isEqualTo("MALFORMED_MESSAGE");
          } catch (InvalidProtocolBufferException bad) {
            throw new AssertionError(bad);
          }
        });
    // Not valid protobuf at all: a length running past the end of the message.
    assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(server.channel(), raw(SyncServiceGrpc.getPullMethod()),
        CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), new byte[] {0x0A, 0x7F, 'x'}))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
  }

  /** A raw Sync stream. */
  private static final class RawStream implements StreamObserver<byte[]> {
    private final LinkedBlockingQueue<SyncResponse> received = new LinkedBlockingQueue<>();
    private final CompletableFuture<Status> ended = new CompletableFuture<>();
    private final StreamObserver<byte[]> requests;

    RawStream() {
      requests = ClientCalls.asyncBidiStreamingCall(server.channel().newCall(
          raw(SyncServiceGrpc.getSyncMethod()), CallOptions.DEFAULT), this);
    }

    void send(Wire syncRequest) {
      requests.onNext(syncRequest.toByteArray());
    }

    SyncResponse await(Predicate<SyncResponse> wanted) throws Exception {
      while (true) {
        SyncResponse next = received.poll(ended.isDone() ? 0 : 60, TimeUnit.SECONDS);
        if (next == null) {
          throw new AssertionError("nothing wanted arrived; stream ended: " + (ended.isDone() ? ended.join() : "no"));
        }
        if (wanted.test(next)) {
          return next;
        }
      }
    }

    @Override
    public void onNext(byte[] value) {
      try {
        received.add(SyncResponse.parseFrom(value));
      } catch (InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public void onError(Throwable t) {
      ended.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
    }
  }

  @Test
  void theSyncStreamAnswersUnparseableMessagesAndStaysOpen() throws Exception {
    RawStream stream = new RawStream();
    // SyncRequest.hello = 1 {client_id = 1}; .push = 2 {batch_id = 1, deltas = 2}; .ack = 3 {cursor = 1}.
    stream.send(message().message(1, message().string(1, "raw-streamer")));
    stream.await(SyncResponse::hasWelcome);

    stream.send(message().message(2, message().string(1, "batch-1")
        .message(2, createDelta("s0", "stream-too-deep", nestedDocument(45)))
        .message(2, message().string(1, "s1").string(2, "note").bytes(3, HALF_AN_EMOJI).string(4, "team-a")
            .varint(5, 1).message(8, nestedDocument(1)))
        .message(2, createDelta("s2", "stream-at-the-limit", nestedDocument(32)))));
    List<DeltaResult> results = stream.await(SyncResponse::hasPushResults).getPushResults().getResultsList();
    assertThat(results).extracting(DeltaResult::getDeltaId).containsExactly("s0", "s1", "s2");
    assertThat(results).extracting(DeltaResult::getStatus).containsExactly(DeltaStatus.DELTA_STATUS_REJECTED,
        DeltaStatus.DELTA_STATUS_REJECTED, DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(fields(results.get(0).getError())).singleElement().asString()
        .startsWith("deltas[0].data: ").contains("deeper than 32 levels");
    assertThat(fields(results.get(1).getError())).singleElement().asString().startsWith("deltas[1]: ");

    // An ack whose cursor is not UTF-8: the whole message is unreadable, so the client hears why, on the stream.
    stream.send(message().message(3, message().bytes(1, HALF_AN_EMOJI)));
    SyncResponse error = stream.await(SyncResponse::hasError);
    assertThat(error.getError().getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT.value());
    assertThat(reason(error.getError().getStatus())).isEqualTo("MALFORMED_MESSAGE");
    assertThat(error.getError().getStatus().getMessage()).contains("UTF-8");

    // And the stream still works.
    stream.send(message().message(2, message().string(1, "batch-2")
        .message(2, createDelta("s3", "stream-after", nestedDocument(1)))));
    assertThat(stream.await(SyncResponse::hasPushResults).getPushResults().getResults(0).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(stream.ended).isNotDone();
    stream.requests.onCompleted();
    assertThat(stream.ended.get(60, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
  }
}

package io.deltasync.server.rpc;

import static io.deltasync.server.testing.Wire.createDelta;
import static io.deltasync.server.testing.Wire.message;
import static io.deltasync.server.testing.Wire.nestedDocument;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import io.deltasync.server.write.ParseFailure;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncRequest;
import org.junit.jupiter.api.Test;

/** Salvaging what protobuf-java refuses to parse, on hand-encoded bytes. */
class RequestParsingTest {
  private static final byte[] NOT_UTF8 = {'x', (byte) 0xF0, (byte) 0x9F};
  private static final InvalidProtocolBufferException FAILURE =
      new InvalidProtocolBufferException("Protocol message had invalid UTF-8.");

  @Test
  void aPushKeepsItsGoodDeltasAndMarksTheBadOneWithItsId() throws Exception {
    byte[] good = createDelta("a", "a", nestedDocument(2)).toByteArray();
    PushRequest push = RequestParsing.salvagePush(message().string(1, "client")
        .message(2, createDelta("a", "a", nestedDocument(2)))
        .message(2, message().string(1, "b").bytes(3, NOT_UTF8))
        .message(2, message().bytes(1, NOT_UTF8))
        .toByteArray(), FAILURE);

    assertThat(ParseFailure.of(push)).isEmpty();
    assertThat(push.getClientId()).isEqualTo("client");
    assertThat(push.getDeltas(0)).isEqualTo(Delta.parseFrom(good));
    assertThat(ParseFailure.of(push.getDeltas(0))).isEmpty();
    assertThat(push.getDeltas(1).getDeltaId()).isEqualTo("b");
    assertThat(ParseFailure.of(push.getDeltas(1))).get().asString().contains("UTF-8");
    assertThat(push.getDeltas(2).getDeltaId()).isEmpty();
    assertThat(ParseFailure.of(push.getDeltas(2))).isPresent();
  }

  @Test
  void aPushWhoseClientIdIsNotUtf8OrWhoseBytesAreBrokenIsMarkedAsAWhole() {
    PushRequest badClient = RequestParsing.salvagePush(message().bytes(1, NOT_UTF8).toByteArray(), FAILURE);
    assertThat(ParseFailure.of(badClient)).get().asString().startsWith("client_id: ").contains("UTF-8");

    PushRequest truncated = RequestParsing.salvagePush(new byte[] {0x12, 0x7F, 0x01}, FAILURE);
    assertThat(ParseFailure.of(truncated)).get().asString().contains("cannot be parsed");
  }

  @Test
  void onTheStreamOnlyAPushIsSalvaged() {
    SyncRequest push = RequestParsing.salvageSyncRequest(message().message(2, message().string(1, "batch")
        .message(2, message().string(1, "d").bytes(2, NOT_UTF8))).toByteArray(), FAILURE);
    assertThat(ParseFailure.of(push)).isEmpty();
    assertThat(push.getPush().getBatchId()).isEqualTo("batch");
    assertThat(ParseFailure.of(push.getPush().getDeltas(0))).isPresent();

    SyncRequest badBatch = RequestParsing.salvageSyncRequest(message().message(2, message().bytes(1, NOT_UTF8))
        .toByteArray(), FAILURE);
    assertThat(badBatch.hasPush()).isFalse();
    assertThat(ParseFailure.of(badBatch)).get().asString().startsWith("push.batch_id: ");

    SyncRequest ack = RequestParsing.salvageSyncRequest(message().message(3, message().bytes(1, NOT_UTF8))
        .toByteArray(), FAILURE);
    assertThat(ack.getMessageCase()).isEqualTo(SyncRequest.MessageCase.MESSAGE_NOT_SET);
    assertThat(ParseFailure.of(ack)).get().asString().contains("UTF-8");
  }

  @Test
  void problemsAreDescribedForClientDevelopers() {
    assertThat(RequestParsing.describe(new InvalidProtocolBufferException(
        "Protocol message had too many levels of nesting.  May be malicious.  Use setRecursionLimit() to increase "
            + "the recursion depth limit."))).contains("nested deeper").contains("32 levels");
  }
}

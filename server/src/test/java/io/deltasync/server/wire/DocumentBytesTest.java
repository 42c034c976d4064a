package io.deltasync.server.wire;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.UnknownFieldSet;
import com.google.protobuf.Value;
import io.deltasync.v1.Change;
import io.deltasync.v1.Entity;
import io.deltasync.v1.SyncChanges;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.MethodDescriptor;
import org.junit.jupiter.api.Test;

/**
 * A page whose documents travel as wire bytes (the entity's unknown fields, as the stream's reads build it) reaches
 * an in-process client with its documents: gRPC's protobuf marshaller would hand over the very message object, whose
 * {@code getData()} is empty, and the Sync method's marshaller sends its bytes instead.
 */
class DocumentBytesTest {
  private static final Struct DOCUMENT = Struct.newBuilder()
      .putFields("title", Value.newBuilder().setStringValue("note 1").build())
      .putFields("n", Value.newBuilder().setNumberValue(-0.0).build()).build();

  private static SyncResponse page(Entity entity) {
    return SyncResponse.newBuilder().setChanges(SyncChanges.newBuilder().setCursor("c")
        .addChanges(Change.newBuilder().setCursor("c1").setEntity(Entity.newBuilder().setEntityId("plain")))
        .addChanges(Change.newBuilder().setCursor("c2").setEntity(entity))).build();
  }

  @Test
  void anInProcessClientReceivesTheDocumentsOfAPageThatCarriesThemAsBytes() {
    Entity byBytes = Entity.newBuilder().setEntityId("e").setUnknownFields(UnknownFieldSet.newBuilder()
        .addField(Entity.DATA_FIELD_NUMBER, UnknownFieldSet.Field.newBuilder()
            .addLengthDelimited(DOCUMENT.toByteString()).build()).build()).build();
    MethodDescriptor.Marshaller<SyncResponse> marshaller = SharedResponses.marshaller(
        SyncServiceGrpc.getSyncMethod().getResponseMarshaller());
    // The client's side parses with the generated marshaller, as an in-process stub does.
    SyncResponse received = SyncServiceGrpc.getSyncMethod().getResponseMarshaller()
        .parse(marshaller.stream(page(byBytes)));
    Entity entity = received.getChanges().getChanges(1).getEntity();
    assertThat(entity.getData()).isEqualTo(DOCUMENT);
    assertThat(entity.getUnknownFields().asMap()).isEmpty();
    assertThat(received).isEqualTo(page(Entity.newBuilder().setEntityId("e").setData(DOCUMENT).build()));
  }

  @Test
  void aWatchClientAndAJsonPrinterReceiveTheDocumentsToo() throws Exception {
    Entity byBytes = Entity.newBuilder().setEntityId("e").setUnknownFields(UnknownFieldSet.newBuilder()
        .addField(Entity.DATA_FIELD_NUMBER, UnknownFieldSet.Field.newBuilder()
            .addLengthDelimited(DOCUMENT.toByteString()).build()).build()).build();
    io.deltasync.v1.WatchChangesResponse watch = io.deltasync.v1.WatchChangesResponse.newBuilder()
        .setEvent(page(byBytes)).build();
    io.deltasync.v1.WatchChangesResponse expected = io.deltasync.v1.WatchChangesResponse.newBuilder()
        .setEvent(page(Entity.newBuilder().setEntityId("e").setData(DOCUMENT).build())).build();
    var generated = (MethodDescriptor.PrototypeMarshaller<io.deltasync.v1.WatchChangesResponse>)
        SyncServiceGrpc.getWatchChangesMethod().getResponseMarshaller();
    assertThat(generated.parse(DocumentBytes.marshaller(generated).stream(watch))).isEqualTo(expected);
    assertThat(DocumentBytes.expanded(watch)).isEqualTo(expected);
    String json = com.google.protobuf.util.JsonFormat.printer().print(DocumentBytes.expanded(watch));
    assertThat(json).contains("note 1");
    assertThat(com.google.protobuf.util.JsonFormat.printer().print(watch)).as("why: the printer skips them")
        .doesNotContain("note 1");
  }

  @Test
  void onlyPagesThatCarryDocumentsAsBytesAreSerializedHere() {
    assertThat(DocumentBytes.carried(page(Entity.newBuilder().setEntityId("e").setData(DOCUMENT).build())))
        .isFalse();
    assertThat(DocumentBytes.carried(SyncResponse.getDefaultInstance())).isFalse();
  }
}

package io.deltasync.bench.scale;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.deltasync.v1.SyncPhase;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The load client's view of a Sync response: only what it checks (the kind of message, the phase, whether a cursor
 * came, and each change's entity id), read straight from the wire without building the documents. With a thousand
 * subscribers on the same two cores as the server, parsing every document a thousand times was as much CPU as the
 * server's whole delivery; this keeps the client from taking the server's cores while it still verifies every
 * delivery (each entity id is read and checked off).
 */
final class LeanResponses {
  private LeanResponses() {}

  /** What arrived. */
  enum Kind { CHANGES, HEARTBEAT, OTHER }

  /**
   * One response as the load client sees it.
   *
   * @param kind which message it is
   * @param phase the phase of a changes message
   * @param hasCursor whether a changes message carries a cursor
   * @param entityIds the entity ids of its changes, in order
   */
  record Received(Kind kind, SyncPhase phase, boolean hasCursor, String[] entityIds) {
    int changeCount() {
      return entityIds.length;
    }
  }

  private static final Received HEARTBEAT = new Received(Kind.HEARTBEAT, SyncPhase.SYNC_PHASE_UNSPECIFIED, false,
      new String[0]);
  private static final Received OTHER = new Received(Kind.OTHER, SyncPhase.SYNC_PHASE_UNSPECIFIED, false,
      new String[0]);

  /** The Sync method, with responses read as {@link Received}. */
  static final MethodDescriptor<SyncRequest, Received> SYNC = SyncServiceGrpc.getSyncMethod().toBuilder(
      SyncServiceGrpc.getSyncMethod().getRequestMarshaller(), new MethodDescriptor.Marshaller<Received>() {
        @Override
        public InputStream stream(Received value) {
          throw new UnsupportedOperationException("the load client only reads responses");
        }

        @Override
        public Received parse(InputStream stream) {
          try {
            return read(CodedInputStream.newInstance(stream));
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      }).build();

  static Received read(CodedInputStream in) throws IOException {
    Received received = OTHER;
    int tag;
    while ((tag = in.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case SyncResponse.CHANGES_FIELD_NUMBER -> {
          int limit = in.pushLimit(in.readRawVarint32());
          received = changes(in);
          in.popLimit(limit);
        }
        case SyncResponse.HEARTBEAT_FIELD_NUMBER -> {
          in.skipField(tag);
          received = HEARTBEAT;
        }
        default -> in.skipField(tag);
      }
    }
    return received;
  }

  /** SyncChanges: changes = 1, cursor = 2, phase = 3. */
  private static Received changes(CodedInputStream in) throws IOException {
    java.util.ArrayList<String> ids = new java.util.ArrayList<>();
    boolean cursor = false;
    SyncPhase phase = SyncPhase.SYNC_PHASE_UNSPECIFIED;
    int tag;
    while ((tag = in.readTag()) != 0) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> {
          int limit = in.pushLimit(in.readRawVarint32());
          ids.add(entityIdOfChange(in));
          in.popLimit(limit);
        }
        case 2 -> {
          int length = in.readRawVarint32();
          in.skipRawBytes(length);
          cursor = length > 0;
        }
        case 3 -> phase = SyncPhase.forNumber(in.readEnum());
        default -> in.skipField(tag);
      }
    }
    return new Received(Kind.CHANGES, phase == null ? SyncPhase.UNRECOGNIZED : phase, cursor,
        ids.toArray(String[]::new));
  }

  /** Change: entity = 3; Entity: entity_id = 3. Everything else (the documents) is skipped by its length. */
  private static String entityIdOfChange(CodedInputStream in) throws IOException {
    String id = "";
    int tag;
    while ((tag = in.readTag()) != 0) {
      if (WireFormat.getTagFieldNumber(tag) == 3) {
        int limit = in.pushLimit(in.readRawVarint32());
        int inner;
        while ((inner = in.readTag()) != 0) {
          if (WireFormat.getTagFieldNumber(inner) == 3) {
            id = in.readStringRequireUtf8();
          } else {
            in.skipField(inner);
          }
        }
        in.popLimit(limit);
      } else {
        in.skipField(tag);
      }
    }
    return id;
  }
}

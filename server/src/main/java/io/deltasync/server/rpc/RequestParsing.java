package io.deltasync.server.rpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.Parser;
import com.google.protobuf.WireFormat;
import com.google.rpc.Code;
import io.deltasync.server.error.Errors;
import io.deltasync.server.write.ParseFailure;
import io.deltasync.v1.Delta;
import io.deltasync.v1.ErrorReason;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncPush;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;

/**
 * Parses requests so that a message the server cannot parse never ends a call with {@code UNKNOWN}.
 *
 * <p>Two traps of the defaults. protobuf-java refuses messages nested deeper than 100 levels, and every level of a
 * {@code Struct} document costs three (Struct, map entry, Value), so a delta's data nested 33 levels could not even
 * reach the validator that enforces the documented limit of 32. And grpc-java ends a call with {@code UNKNOWN
 * "Application error processing RPC"} and no details when a request marshaller throws — for a whole Push batch
 * or a whole Sync stream, because of one bad delta. {@code ProtoUtils.marshallerWithRecursionLimit} fixes the
 * first only: it still throws on a string that is not UTF-8 (a JavaScript client cutting an emoji in half).
 *
 * <p>So every request of the service is parsed here with {@link #RECURSION_LIMIT}, and a message that still does not
 * parse is salvaged instead of thrown: the deltas of a Push or SyncPush are parsed one by one and an unparseable one
 * is replaced by a stand-in ({@link ParseFailure}) that the validator rejects alone, naming it; any other message
 * becomes a marked stand-in that a unary call answers with {@code INVALID_ARGUMENT} (reason
 * {@code MALFORMED_MESSAGE}) and the Sync session with a SyncError, keeping the stream open.
 */
public final class RequestParsing {
  /**
   * Message levels a request may nest. Above the documented data limit (32 Struct levels are about 100 message
   * levels inside a SyncRequest), so the validator rejects deeper documents with a field violation; still bounded,
   * because parsing recurses on the stack.
   */
  static final int RECURSION_LIMIT = 256;

  private static final int PUSH_CLIENT_ID = tag(PushRequest.CLIENT_ID_FIELD_NUMBER);
  private static final int PUSH_DELTAS = tag(PushRequest.DELTAS_FIELD_NUMBER);
  private static final int SYNC_PUSH = tag(SyncRequest.PUSH_FIELD_NUMBER);
  private static final int SYNC_PUSH_BATCH_ID = tag(SyncPush.BATCH_ID_FIELD_NUMBER);
  private static final int SYNC_PUSH_DELTAS = tag(SyncPush.DELTAS_FIELD_NUMBER);
  private static final int DELTA_ID = tag(Delta.DELTA_ID_FIELD_NUMBER);

  private RequestParsing() {}

  /** The service with every request parsed as described above; its schema (for reflection) is unchanged. */
  public static ServerServiceDefinition lenient(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> lenient = lenient(method);
      descriptor.addMethod(lenient.getMethodDescriptor());
      methods.add(lenient);
    }
    ServerServiceDefinition.Builder builder = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(builder::addMethod);
    return builder.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> lenient(ServerMethodDefinition<Q, R> definition) {
    MethodDescriptor<Q, R> method = definition.getMethodDescriptor();
    @SuppressWarnings("unchecked")
    Q prototype = ((MethodDescriptor.PrototypeMarshaller<Q>) method.getRequestMarshaller()).getMessagePrototype();
    MethodDescriptor<Q, R> parsed = method.toBuilder(new LenientMarshaller<>(method.getRequestMarshaller(),
        prototype, salvage(method.getFullMethodName(), prototype)), method.getResponseMarshaller()).build();
    ServerCallHandler<Q, R> handler = definition.getServerCallHandler();
    if (method.getType().clientSendsOneMessage()) {
      handler = rejectingMalformed(handler);
    }
    return ServerMethodDefinition.create(parsed, handler);
  }

  @SuppressWarnings("unchecked")
  private static <Q> BiFunction<byte[], InvalidProtocolBufferException, Q> salvage(String method, Q prototype) {
    if (method.equals(SyncServiceGrpc.getPushMethod().getFullMethodName())) {
      return (bytes, e) -> (Q) salvagePush(bytes, e);
    }
    if (method.equals(SyncServiceGrpc.getSyncMethod().getFullMethodName())) {
      return (bytes, e) -> (Q) salvageSyncRequest(bytes, e);
    }
    return (bytes, e) -> (Q) ParseFailure.mark(((Message) prototype).newBuilderForType(),
        "the request cannot be parsed: " + describe(e)).build();
  }

  /** Parses with the recursion limit, and never throws: what does not parse is salvaged. */
  private static final class LenientMarshaller<Q> implements MethodDescriptor.PrototypeMarshaller<Q> {
    private final MethodDescriptor.Marshaller<Q> original;
    private final Q prototype;
    private final Parser<?> parser;
    private final BiFunction<byte[], InvalidProtocolBufferException, Q> salvage;

    LenientMarshaller(MethodDescriptor.Marshaller<Q> original, Q prototype,
        BiFunction<byte[], InvalidProtocolBufferException, Q> salvage) {
      this.original = original;
      this.prototype = prototype;
      this.parser = ((Message) prototype).getParserForType();
      this.salvage = salvage;
    }

    @Override
    public InputStream stream(Q value) {
      return original.stream(value);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Q parse(InputStream stream) {
      byte[] bytes;
      try (stream) {
        // Already bounded by the server's maximum inbound message size.
        bytes = stream.readAllBytes();
      } catch (IOException e) {
        throw Status.INTERNAL.withDescription("reading the request failed").withCause(e).asRuntimeException();
      }
      try {
        return (Q) parser.parseFrom(limited(bytes));
      } catch (InvalidProtocolBufferException e) {
        return salvage.apply(bytes, e);
      }
    }

    @Override
    public Q getMessagePrototype() {
      return prototype;
    }

    @Override
    public Class<Q> getMessageClass() {
      @SuppressWarnings("unchecked")
      Class<Q> type = (Class<Q>) prototype.getClass();
      return type;
    }
  }

  /** For unary requests: a marked stand-in ends the call with INVALID_ARGUMENT instead of reaching the service. */
  private static <Q, R> ServerCallHandler<Q, R> rejectingMalformed(ServerCallHandler<Q, R> handler) {
    return (call, headers) -> new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
        handler.startCall(call, headers)) {
      private boolean rejected;

      @Override
      public void onMessage(Q message) {
        Optional<String> problem = ParseFailure.of((MessageOrBuilder) message);
        if (problem.isEmpty()) {
          super.onMessage(message);
          return;
        }
        rejected = true;
        StatusRuntimeException status = StatusProto.toStatusRuntimeException(Errors.status(
            Code.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_MALFORMED_MESSAGE, problem.get()));
        call.close(status.getStatus(), status.getTrailers() == null ? new Metadata() : status.getTrailers());
      }

      @Override
      public void onHalfClose() {
        if (!rejected) {
          super.onHalfClose();
        }
      }
    };
  }

  /** A Push that did not parse: its client_id must, its deltas are taken one by one. */
  static PushRequest salvagePush(byte[] bytes, InvalidProtocolBufferException failure) {
    PushRequest.Builder request = PushRequest.newBuilder();
    try {
      CodedInputStream in = limited(bytes);
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag == PUSH_CLIENT_ID) {
          ByteString clientId = in.readBytes();
          if (!clientId.isValidUtf8()) {
            return ParseFailure.mark(PushRequest.newBuilder(), "client_id: " + INVALID_UTF8).build();
          }
          request.setClientId(clientId.toStringUtf8());
        } else if (tag == PUSH_DELTAS) {
          request.addDeltas(salvageDelta(in.readBytes()));
        } else if (!in.skipField(tag)) {
          break;
        }
      }
    } catch (IOException e) {
      return ParseFailure.mark(PushRequest.newBuilder(), "the request cannot be parsed: " + describe(e)).build();
    }
    return request.build();
  }

  /**
   * A Sync message that did not parse: a push is salvaged delta by delta like a Push; any other message becomes a
   * marked stand-in the session answers with a SyncError.
   */
  static SyncRequest salvageSyncRequest(byte[] bytes, InvalidProtocolBufferException failure) {
    ByteString push = null;
    try {
      CodedInputStream in = limited(bytes);
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag == SYNC_PUSH) {
          push = in.readBytes();
        } else if (WireFormat.getTagFieldNumber(tag) <= SyncRequest.CHECKSUM_REQUEST_FIELD_NUMBER) {
          push = null;  // another member of the oneof came later, and the last one set wins
          in.skipField(tag);
        } else if (!in.skipField(tag)) {
          break;
        }
      }
    } catch (IOException e) {
      push = null;
    }
    if (push == null) {
      return ParseFailure.mark(SyncRequest.newBuilder(), "the message cannot be parsed: " + describe(failure))
          .build();
    }
    SyncPush.Builder salvaged = SyncPush.newBuilder();
    try {
      CodedInputStream in = push.newCodedInput();
      in.setRecursionLimit(RECURSION_LIMIT - 1);
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag == SYNC_PUSH_BATCH_ID) {
          ByteString batchId = in.readBytes();
          if (!batchId.isValidUtf8()) {
            return ParseFailure.mark(SyncRequest.newBuilder(), "push.batch_id: " + INVALID_UTF8).build();
          }
          salvaged.setBatchId(batchId.toStringUtf8());
        } else if (tag == SYNC_PUSH_DELTAS) {
          salvaged.addDeltas(salvageDelta(in.readBytes()));
        } else if (!in.skipField(tag)) {
          break;
        }
      }
    } catch (IOException e) {
      return ParseFailure.mark(SyncRequest.newBuilder(), "the push cannot be parsed: " + describe(e)).build();
    }
    return SyncRequest.newBuilder().setPush(salvaged).build();
  }

  /** The delta, or a stand-in carrying its delta_id (when readable) and why it could not be parsed. */
  private static Delta salvageDelta(ByteString bytes) {
    try {
      CodedInputStream in = bytes.newCodedInput();
      in.setRecursionLimit(RECURSION_LIMIT - 1);
      return Delta.parser().parseFrom(in);
    } catch (IOException e) {
      Delta.Builder standIn = Delta.newBuilder();
      deltaId(bytes).ifPresent(standIn::setDeltaId);
      return ParseFailure.mark(standIn, "cannot be parsed: " + describe(e)).build();
    }
  }

  /** The delta_id of an unparseable delta, so its result can still be correlated. */
  private static Optional<String> deltaId(ByteString delta) {
    String found = null;
    try {
      CodedInputStream in = delta.newCodedInput();
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag == DELTA_ID) {
          ByteString id = in.readBytes();
          found = id.isValidUtf8() ? id.toStringUtf8() : null;
        } else if (!in.skipField(tag)) {
          break;
        }
      }
    } catch (IOException e) {
      // keep what was read before the damage
    }
    return Optional.ofNullable(found);
  }

  private static final String INVALID_UTF8 = "not valid UTF-8 (proto3 string fields must hold UTF-8; a client that "
      + "cut a multi-byte character in half sends this)";

  /**
   * In words a client developer can act on; protobuf's own messages talk about its API. (Reading from a byte array
   * only ever fails with InvalidProtocolBufferException, but CodedInputStream declares IOException.)
   */
  static String describe(IOException e) {
    String message = String.valueOf(e.getMessage());
    if (message.contains("UTF-8")) {
      return "a string field is " + INVALID_UTF8;
    }
    if (message.contains("levels of nesting")) {
      return "nested deeper than the server parses (" + RECURSION_LIMIT + " message levels; a delta's data may nest "
          + "at most 32 levels)";
    }
    return "not a valid protobuf encoding of the message (" + message + ")";
  }

  private static CodedInputStream limited(byte[] bytes) {
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    in.setRecursionLimit(RECURSION_LIMIT);
    return in;
  }

  private static int tag(int fieldNumber) {
    return fieldNumber << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;
  }
}

package io.deltasync.server.web;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.linecorp.armeria.common.grpc.GrpcJsonMarshaller;
import io.deltasync.server.write.ParseFailure;
import io.deltasync.v1.PushRequest;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * How the HTTP port parses requests: as leniently as the gRPC port (rpc.RequestParsing) for protobuf, and strictly
 * for JSON.
 *
 * <p>Armeria parses a protobuf request itself, with the message's own parser, when the method's request marshaller
 * is a {@link MethodDescriptor.PrototypeMarshaller}: RequestParsing's marshaller was bypassed, so one unparseable
 * delta failed the whole batch with INTERNAL. Here the request marshaller is a plain {@link MethodDescriptor.Marshaller}
 * delegating to RequestParsing's, so Armeria calls it; the JSON marshaller, which needs the message type, finds it
 * in {@link Request#prototype}.
 *
 * <p>JSON requests (HTTP/JSON after transcoding, and gRPC-Web JSON) pass {@link StrictJson} and are parsed with
 * protobuf's own JSON parser, which refuses unknown fields (Armeria's default ignored them: a typo of
 * baseRowVersion silently dropped the compare-and-set). A Push whose only faults are inside some of its deltas is
 * salvaged delta by delta ({@link JsonPushSalvage}); anything else that does not pass becomes RequestParsing's marked
 * stand-in, which a unary call answers with INVALID_ARGUMENT (reason MALFORMED_MESSAGE) and a Sync stream with a
 * SyncError, as on the gRPC port.
 */
final class WebMarshalling {
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();

  private WebMarshalling() {}

  /** {@code service} (already wrapped by RequestParsing.lenient) with request marshallers Armeria calls. */
  static ServerServiceDefinition forArmeria(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> wrapped = wrap(method);
      descriptor.addMethod(wrapped.getMethodDescriptor());
      methods.add(wrapped);
    }
    ServerServiceDefinition.Builder builder = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(builder::addMethod);
    return builder.build();
  }

  private static <Q, R> ServerMethodDefinition<Q, R> wrap(ServerMethodDefinition<Q, R> definition) {
    MethodDescriptor<Q, R> method = definition.getMethodDescriptor();
    if (!(method.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<Q> typed)
        || !(typed.getMessagePrototype() instanceof Message prototype)) {
      return definition;
    }
    MethodDescriptor<Q, R> wrapped = method.toBuilder(new Request<>(typed, prototype), method.getResponseMarshaller())
        .build();
    return ServerMethodDefinition.create(wrapped, definition.getServerCallHandler());
  }

  /** Not a PrototypeMarshaller, on purpose (see the class comment). */
  static final class Request<Q> implements MethodDescriptor.Marshaller<Q> {
    private final MethodDescriptor.Marshaller<Q> lenient;
    final Message prototype;

    Request(MethodDescriptor.Marshaller<Q> lenient, Message prototype) {
      this.lenient = lenient;
      this.prototype = prototype;
    }

    @Override
    public InputStream stream(Q value) {
      return lenient.stream(value);
    }

    @Override
    public Q parse(InputStream stream) {
      return lenient.parse(stream);
    }
  }

  /** JSON of the services: Armeria's printer for responses, the strict parse above for requests. */
  static final class Json implements GrpcJsonMarshaller {
    private final GrpcJsonMarshaller armeria;

    Json(ServiceDescriptor service) {
      // google.rpc.Status details inside responses (a rejected delta's DeltaResult) are Any: their types must be
      // known, or the whole response fails to print.
      this.armeria = GrpcJsonMarshaller.builder().jsonMarshallerCustomizer(json -> json
          .register(com.google.rpc.ErrorInfo.getDefaultInstance())
          .register(com.google.rpc.BadRequest.getDefaultInstance())
          .register(com.google.rpc.RetryInfo.getDefaultInstance())
          .register(com.google.rpc.PreconditionFailure.getDefaultInstance())
          .register(com.google.rpc.QuotaFailure.getDefaultInstance())
          .register(com.google.rpc.ResourceInfo.getDefaultInstance())
          .register(com.google.rpc.RequestInfo.getDefaultInstance())
          .register(com.google.rpc.DebugInfo.getDefaultInstance())
          .register(com.google.rpc.Help.getDefaultInstance())
          .register(com.google.rpc.LocalizedMessage.getDefaultInstance()))
          .build(service);
    }

    @Override
    public <T> void serializeMessage(MethodDescriptor.Marshaller<T> marshaller, T message, OutputStream out)
        throws IOException {
      // Catch-up and initial-state pages carry their documents as protobuf bytes, which a JSON printer skips.
      armeria.serializeMessage(marshaller, io.deltasync.server.wire.DocumentBytes.expanded(message), out);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T deserializeMessage(MethodDescriptor.Marshaller<T> marshaller, InputStream in) throws IOException {
      if (!(marshaller instanceof Request<T> request)) {
        return armeria.deserializeMessage(marshaller, in);
      }
      byte[] bytes;
      try (in) {
        bytes = in.readAllBytes();
      }
      return (T) parse(request.prototype, bytes);
    }
  }

  /** The request message, or a marked stand-in saying why the body is not one. */
  static Message parse(Message prototype, byte[] json) {
    String type = prototype.getDescriptorForType().getName();
    Optional<String> problem = StrictJson.problem(json);
    if (problem.isPresent()) {
      return ParseFailure.mark(prototype.newBuilderForType(), "request body: " + problem.get() + "; see docs/http.md")
          .build();
    }
    Message.Builder builder = prototype.newBuilderForType();
    try {
      PARSER.merge(new String(json, StandardCharsets.UTF_8), builder);
      return builder.build();
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      if (prototype instanceof PushRequest) {
        Optional<PushRequest> salvaged = JsonPushSalvage.salvage(json, PARSER);
        if (salvaged.isPresent()) {
          return salvaged.get();
        }
      }
      return ParseFailure.mark(prototype.newBuilderForType(), "request body: not JSON of " + type + " ("
          + e.getMessage() + "); see docs/http.md").build();
    }
  }
}

package io.deltasync.server.wire;

import io.deltasync.v1.SyncResponse;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serialize once, send to many: a live page that reaches a thousand streams with the same content is one
 * {@link SyncResponse} instance, {@link #share shared} by every stream; its bytes are kept beside it and the Sync
 * method's response marshaller hands those same bytes to each stream, instead of serializing the message once per
 * stream (protobuf's {@code writeTo} is not memoized, only its size is).
 *
 * <p>The cache holds the most recently shared messages only: at most {@link #SLOTS} of them, each at most
 * {@link #MAX_BYTES}, all together at most {@link #MAX_TOTAL_BYTES} of bytes (the oldest go first), looked up by
 * identity; it holds the messages themselves weakly, so a message no stream still queues is not kept alive by it.
 * A stream that sends a shared message after it fell out of the cache (a stream far behind the others) serializes
 * it itself, with the same bytes. Live streams send a page within milliseconds of each other, so a short window is
 * all the sharing needs, and the cache adds at most {@code MAX_TOTAL_BYTES} to the heap whatever is written (a
 * stalled consumer's heap stays flat: docs/performance.md, "At scale").
 */
public final class SharedResponses {
  /** How many recently shared messages keep their bytes. */
  public static final int SLOTS = 64;
  /** The largest message whose bytes are kept (larger ones are serialized per stream, as before). */
  public static final int MAX_BYTES = 256 * 1024;
  /** The bytes kept for all messages together. */
  public static final long MAX_TOTAL_BYTES = 2L * 1024 * 1024;

  private static final AtomicReferenceArray<Entry> RING = new AtomicReferenceArray<>(SLOTS);
  // share() is called once per shared message (not per stream): a lock keeps the ring's byte total exact.
  private static final ReentrantLock SHARING = new ReentrantLock();
  private static int next;
  private static long keptBytes;

  private static final LongAdder REUSED = new LongAdder();

  private record Entry(WeakReference<SyncResponse> message, byte[] bytes) {}

  private SharedResponses() {}

  /**
   * Serializes {@code message} now, once, and keeps its bytes for the marshaller; returns the message. Call it only
   * for an immutable message that will be sent to several streams.
   */
  public static SyncResponse share(SyncResponse message) {
    int size = message.getSerializedSize();
    if (size > MAX_BYTES) {
      return message;
    }
    Entry entry = new Entry(new WeakReference<>(message), message.toByteArray());
    SHARING.lock();
    try {
      // Oldest first: the slots from `next` on, until the new bytes fit and `next` itself is free.
      for (int i = 0; i < SLOTS && (keptBytes + size > MAX_TOTAL_BYTES || RING.get(next) != null); i++) {
        int slot = (next + i) % SLOTS;
        Entry old = RING.getAndSet(slot, null);
        if (old != null) {
          keptBytes -= old.bytes().length;
        }
        if (keptBytes + size <= MAX_TOTAL_BYTES && RING.get(next) == null) {
          break;
        }
      }
      RING.set(next, entry);
      keptBytes += size;
      next = (next + 1) % SLOTS;
    } finally {
      SHARING.unlock();
    }
    return message;
  }

  /** The bytes kept for {@code message} (this very instance), or null. */
  static byte[] bytesOf(SyncResponse message) {
    for (int i = 0; i < SLOTS; i++) {
      Entry entry = RING.get(i);
      if (entry != null && entry.message().get() == message) {
        return entry.bytes();
      }
    }
    return null;
  }

  /** The bytes kept now for all shared messages together (at most {@link #MAX_TOTAL_BYTES}). */
  static long keptBytes() {
    SHARING.lock();
    try {
      return keptBytes;
    } finally {
      SHARING.unlock();
    }
  }

  /** How many times, since the process started, kept bytes went out instead of a serialization. */
  public static long reused() {
    return REUSED.sum();
  }

  /**
   * The service with every method that answers {@link SyncResponse} marshalling its responses through the shared
   * bytes when there are any (grpc-java frames a {@code ByteArrayInputStream} by its known length, without a copy
   * through a buffer of unknown size).
   */
  public static ServerServiceDefinition install(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> installed = installOn(method);
      methods.add(installed);
      descriptor.addMethod(installed.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder builder = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(builder::addMethod);
    return builder.build();
  }

  /** {@code generated} (the Sync method's own response marshaller), sending kept bytes where there are any. */
  public static MethodDescriptor.Marshaller<SyncResponse> marshaller(
      MethodDescriptor.Marshaller<SyncResponse> generated) {
    return new Marshaller((MethodDescriptor.PrototypeMarshaller<SyncResponse>) generated);
  }

  @SuppressWarnings("unchecked")
  private static <Q, R> ServerMethodDefinition<Q, R> installOn(ServerMethodDefinition<Q, R> definition) {
    MethodDescriptor<Q, R> method = definition.getMethodDescriptor();
    if (method.getResponseMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<R> watch
        && watch.getMessagePrototype() instanceof io.deltasync.v1.WatchChangesResponse) {
      // WatchChanges sends the Sync pages wrapped: those that carry documents as bytes go out as bytes too.
      return ServerMethodDefinition.create(method.toBuilder(method.getRequestMarshaller(),
          DocumentBytes.marshaller(watch)).build(), definition.getServerCallHandler());
    }
    if (!(method.getResponseMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<R> prototyped)
        || !(prototyped.getMessagePrototype() instanceof SyncResponse)) {
      return definition;
    }
    MethodDescriptor.Marshaller<R> shared = (MethodDescriptor.Marshaller<R>) new Marshaller(
        (MethodDescriptor.PrototypeMarshaller<SyncResponse>) prototyped);
    return ServerMethodDefinition.create(method.toBuilder(method.getRequestMarshaller(), shared).build(),
        definition.getServerCallHandler());
  }

  /** The generated marshaller, but for shared messages whose bytes are kept. */
  static final class Marshaller implements MethodDescriptor.PrototypeMarshaller<SyncResponse> {
    private final MethodDescriptor.PrototypeMarshaller<SyncResponse> generated;

    Marshaller(MethodDescriptor.PrototypeMarshaller<SyncResponse> generated) {
      this.generated = generated;
    }

    @Override
    public InputStream stream(SyncResponse value) {
      byte[] bytes = bytesOf(value);
      if (bytes == null) {
        return DocumentBytes.carried(value) ? DocumentBytes.stream(value) : generated.stream(value);
      }
      REUSED.increment();
      return new ByteArrayInputStream(bytes);
    }

    @Override
    public SyncResponse parse(InputStream stream) {
      return generated.parse(stream);
    }

    @Override
    public SyncResponse getMessagePrototype() {
      return generated.getMessagePrototype();
    }

    @Override
    public Class<SyncResponse> getMessageClass() {
      return generated.getMessageClass();
    }
  }
}

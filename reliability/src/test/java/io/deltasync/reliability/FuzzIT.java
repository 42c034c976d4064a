package io.deltasync.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushResponse;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzed input on Push and on the Sync stream, as raw bytes (so nothing on the client side validates them): the
 * server never crashes, never answers UNKNOWN or INTERNAL, never leaks a stack trace, writes nothing for a delta it
 * rejects, and keeps serving a well-behaved SDK client all along. Knobs: reliability.fuzzInputs, reliability.seed.
 */
@Tag("reliability")
class FuzzIT {
  /** What a malformed input may get: each is a documented answer (docs/protocol.md, "Errors"). */
  private static final Set<Status.Code> DOCUMENTED = EnumSet.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT,
      Status.Code.RESOURCE_EXHAUSTED, Status.Code.FAILED_PRECONDITION, Status.Code.ABORTED,
      Status.Code.DEADLINE_EXCEEDED);

  private static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  };
  private static final MethodDescriptor<byte[], byte[]> PUSH = SyncServiceGrpc.getPushMethod().toBuilder(RAW, RAW)
      .build();
  private static final MethodDescriptor<byte[], byte[]> SYNC = SyncServiceGrpc.getSyncMethod().toBuilder(RAW, RAW)
      .build();

  @TempDir
  Path dir;

  @Test
  void fuzzedPushAndSyncInputsGetDocumentedAnswersWriteNothingWhenRejectedAndDisturbNoOne() throws Exception {
    long seed = Chaos.seed();
    int inputs = Chaos.integer("fuzzInputs", 10_000);
    int streams = Math.max(50, inputs / 20);
    System.out.printf("reliability: FuzzIT seed=%d pushInputs=%d syncStreams=%d (reproduce: -Dreliability.seed=%d)%n",
        seed, inputs, streams, seed);
    History history = new History();
    try (PostgresProcess postgres = PostgresProcess.start(dir.resolve("pg"));
        ServerProcess server = new ServerProcess("fuzz", postgres, Chaos.logs().resolve("fuzz-" + seed), Map.of())) {
      server.start();
      ClientNode witness = new ClientNode("bystander", List.of("calm"), dir.resolve("bystander.db"), server.port(),
          history, seed);
      witness.open();
      CrashPointIT.await("bystander live", witness::synced);

      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
          .maxInboundMessageSize(16 * 1024 * 1024).build();
      Map<Status.Code, AtomicInteger> codes = new ConcurrentHashMap<>();
      ConcurrentLinkedQueue<String> findings = new ConcurrentLinkedQueue<>();
      ConcurrentLinkedQueue<String> rejectedDeltas = new ConcurrentLinkedQueue<>();
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<CompletableFuture<Void>> work = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
          int worker = w;
          work.add(CompletableFuture.runAsync(() -> {
            FuzzInputs fuzz = new FuzzInputs(seed + worker, "fuzzer-" + worker);
            for (int i = worker; i < inputs; i += 8) {
              byte[] input = fuzz.push();
              try {
                byte[] reply = ClientCalls.blockingUnaryCall(channel, PUSH,
                    CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), input);
                count(codes, Status.Code.OK);
                for (DeltaResult r : PushResponse.parseFrom(reply).getResultsList()) {
                  if (r.getStatus() == DeltaStatus.DELTA_STATUS_REJECTED) {
                    rejectedDeltas.add("fuzzer-" + worker + ":" + r.getDeltaId());
                    judge(Status.fromCodeValue(r.getError().getCode()), r.getError().getMessage(), "push result",
                        findings);
                  }
                }
              } catch (io.grpc.StatusRuntimeException e) {
                count(codes, e.getStatus().getCode());
                judge(e.getStatus(), e.getStatus().getDescription(), "push #" + i, findings);
              } catch (InvalidProtocolBufferException e) {
                findings.add("push #" + i + ": the server's reply does not parse: " + e.getMessage());
              }
            }
          }, pool));
        }
        work.add(CompletableFuture.runAsync(() -> {
          FuzzInputs fuzz = new FuzzInputs(seed - 1, "streamer");
          for (int i = 0; i < streams; i++) {
            fuzzStream(channel, fuzz, i, codes, findings);
          }
        }, pool));
        // The bystander keeps writing while the fuzzers run.
        int written = 0;
        while (!CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).isDone()) {
          witness.client().create("note", "calm", "calm-" + written++, CrashPointIT.doc("n", "" + written));
          Thread.sleep(50);
        }
        CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).join();
        int bystanderWrites = written;
        CrashPointIT.await("the bystander's writes all acknowledged and delivered", witness::synced);
        assertThat(witness.client().query(null, "calm")).hasSize(bystanderWrites);

        System.out.printf("reliability: FuzzIT seed=%d answers=%s rejectedDeltas=%d bystanderWrites=%d%n", seed,
            codes, rejectedDeltas.size(), bystanderWrites);
        assertThat(findings).as("seed " + seed).isEmpty();
        assertThat(server.isAlive()).as("the server survived every input").isTrue();
        assertThat(server.kills()).isZero();
        // Compared in Java: a fuzzed delta_id may hold bytes (NUL) that PostgreSQL text cannot even be asked about.
        Set<String> inChangeLog = new java.util.HashSet<>();
        try (Connection sql = postgres.connect();
            PreparedStatement rowsOf = sql.prepareStatement(
                "select client_id, delta_id from change_log where client_id like 'fuzzer-%'");
            ResultSet rows = rowsOf.executeQuery()) {
          while (rows.next()) {
            inChangeLog.add(rows.getString(1) + ":" + rows.getString(2));
          }
        }
        assertThat(rejectedDeltas).as("rejected deltas with a change-log row").noneMatch(inChangeLog::contains);
      } finally {
        pool.shutdownNow();
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        witness.close();
      }
    }
  }

  private static void fuzzStream(ManagedChannel channel, FuzzInputs fuzz, int i, Map<Status.Code, AtomicInteger> codes,
      ConcurrentLinkedQueue<String> findings) {
    ClientCall<byte[], byte[]> call = channel.newCall(SYNC, CallOptions.DEFAULT.withDeadlineAfter(20,
        TimeUnit.SECONDS));
    CompletableFuture<Status> closed = new CompletableFuture<>();
    List<byte[]> replies = java.util.Collections.synchronizedList(new ArrayList<>());
    call.start(new ClientCall.Listener<>() {
      @Override
      public void onMessage(byte[] message) {
        replies.add(message);
        call.request(1);
      }

      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    call.request(1);
    if (i % 2 == 0) {
      call.sendMessage(fuzz.validHello().toByteArray());
    }
    for (int m = 0; m < 3; m++) {
      call.sendMessage(fuzz.syncMessage());
    }
    call.halfClose();
    Status status = closed.join();
    count(codes, status.getCode());
    judge(status, status.getDescription(), "stream #" + i, findings);
    for (byte[] reply : replies) {
      try {
        SyncResponse response = SyncResponse.parseFrom(reply);
        if (response.hasError()) {
          judge(Status.fromCodeValue(response.getError().getStatus().getCode()),
              response.getError().getStatus().getMessage(), "stream #" + i + " error", findings);
        }
      } catch (InvalidProtocolBufferException e) {
        findings.add("stream #" + i + ": a reply does not parse: " + e.getMessage());
      }
    }
  }

  private static void count(Map<Status.Code, AtomicInteger> codes, Status.Code code) {
    codes.computeIfAbsent(code, c -> new AtomicInteger()).incrementAndGet();
  }

  private static void judge(Status status, String message, String what, ConcurrentLinkedQueue<String> findings) {
    if (!DOCUMENTED.contains(status.getCode()) && status.getCode() != Status.Code.CANCELLED) {
      findings.add(what + ": undocumented status " + status.getCode() + " (" + message + ")");
    }
    if (message != null && (message.contains("Exception") || message.matches("(?s).*\\bat [a-z]+\\..*"))) {
      findings.add(what + ": message looks like a stack trace: " + message);
    }
  }
}

package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncHeartbeat;
import io.deltasync.v1.SyncRequest;
import io.deltasync.v1.SyncResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What one stream, or one client id, may hold of a server: bounded in bytes, in streams, and in time unread. */
class StreamLimitsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0", "DELTASYNC_MAX_STREAMS_PER_CLIENT", "2",
              "DELTASYNC_STREAM_QUEUE_MIB", "1", "DELTASYNC_STREAM_STALL_SECONDS", "5",
              "DELTASYNC_HEARTBEAT_SECONDS", "1"))
          .withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  private static Subscription scope(String scope) {
    return Subscription.newBuilder().addScopes(scope).build();
  }

  @Test
  void aClientIdMayHoldOnlySoManyStreams() {
    try (StreamClient first = new StreamClient(server.channel());
        StreamClient second = new StreamClient(server.channel());
        StreamClient third = new StreamClient(server.channel())) {
      first.hello("shared-id", "", scope("limits"));
      second.hello("shared-id", "", scope("limits"));
      first.awaitLive();
      second.awaitLive();
      third.hello("shared-id", "", scope("limits"));
      SyncResponse refused = third.await(SyncResponse::hasError, "a refused hello");
      assertThat(refused.getError().getStatus().getMessage()).contains("DELTASYNC_MAX_STREAMS_PER_CLIENT");
      third.assertOpen();

      first.close();
      // Once a slot is free, the same stream can say hello again.
      SyncResponse welcome = null;
      for (int attempt = 0; attempt < 100 && welcome == null; attempt++) {
        third.hello("shared-id", "", scope("limits"));
        SyncResponse answer = third.await(m -> m.hasWelcome() || m.hasError(), "welcome or refusal");
        welcome = answer.hasWelcome() ? answer : null;
        sleep(100);
      }
      assertThat(welcome).as("hello accepted once a stream of the client closed").isNotNull();
      third.awaitLive();
    }
  }

  @Test
  void liveBuffersAreBoundedInBytesNotOnlyInChanges() {
    // Its own connection: a client that reads nothing also stops returning HTTP/2 connection window, which would
    // hold up the writer's pushes if they shared the connection.
    ManagedChannel own = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    try (StreamClient slow = new StreamClient(own, false)) {
      slow.hello("bytes-phone", "", scope("bytes"));
      awaitSession("bytes-phone", SyncSession.State.LIVE);
      Thread heartbeats = keepTalking(slow);
      try {
        // 40 changes of 100 KB: far below the 1,000-change bound, four times the 1 MiB byte bound.
        pushBulky("bytes", 40, 100_000);
        SyncSession.Stats stats = awaitSession("bytes-phone", SyncSession.State.CATCHING_UP);
        assertThat(stats.fallbacks()).isPositive();
        assertThat(stats.maxQueuedBytes()).isLessThanOrEqualTo(1024 * 1024);
      } finally {
        heartbeats.interrupt();
      }
    } finally {
      own.shutdownNow();
    }
  }

  @Test
  void aStreamThatReadsNothingIsEndedThoughItKeepsTalking() {
    ManagedChannel own = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    try (StreamClient stalled = new StreamClient(own, false)) {
      stalled.hello("stalled-phone", "", scope("stall"));
      awaitSession("stalled-phone", SyncSession.State.LIVE);
      Thread heartbeats = keepTalking(stalled);
      try {
        pushBulky("stall", 60, 100_000);
        for (int i = 0; i < 600 && session("stalled-phone").isPresent(); i++) {
          sleep(100);
        }
        assertThat(session("stalled-phone")).as("the stalled stream was ended").isEmpty();
      } finally {
        heartbeats.interrupt();
      }
      stalled.startReading();
      assertThat(stalled.awaitEnd().getDescription()).contains("read nothing");
    } finally {
      own.shutdownNow();
    }
  }

  /** The client sends heartbeats (it is alive and talking) but reads nothing. */
  private static Thread keepTalking(StreamClient client) {
    return Thread.ofPlatform().daemon().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          client.send(SyncRequest.newBuilder().setHeartbeat(SyncHeartbeat.getDefaultInstance()).build());
          Thread.sleep(300);
        } catch (InterruptedException e) {
          return;
        } catch (RuntimeException e) {
          return;  // the stream ended
        }
      }
    });
  }

  private static void pushBulky(String scope, int count, int bytes) {
    Struct bulky = Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(bytes))
        .build()).build();
    List<Delta> deltas = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      deltas.add(Deltas.create(scope + "-" + i, bulky).toBuilder().setScope(scope).build());
      if (deltas.size() == 10) {
        server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(deltas).build());
        deltas.clear();
      }
    }
    if (!deltas.isEmpty()) {
      server.sync().push(PushRequest.newBuilder().setClientId("writer").addAllDeltas(deltas).build());
    }
  }

  private static Optional<SyncSession.Stats> session(String clientId) {
    return server.server().sessions().stats().stream().filter(s -> s.clientId().equals(clientId)).findFirst();
  }

  private static SyncSession.Stats awaitSession(String clientId, SyncSession.State state) {
    for (int i = 0; i < 600; i++) {
      Optional<SyncSession.Stats> stats = session(clientId);
      if (stats.isPresent() && stats.get().state() == state) {
        return stats.get();
      }
      sleep(100);
    }
    throw new AssertionError("session of " + clientId + " never reached " + state + ": "
        + server.server().sessions().stats());
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.Deltas;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Live pages delivered on the live feed's thread to free streams and on a stream's own thread to busy ones
 * (LiveHandOff), with everything racing at once: several writers committing concurrently (pages back to back, each
 * racing the previous one for a stream), streams ending while pages reach them, a stream whose transport turns
 * unready in the middle (it stops reading) and reads again later. Every stream still open gets every change exactly
 * once, each writer's changes in commit order, and the feed keeps serving.
 */
class LiveDeliveryRacesIT {
  private static final String SCOPE = "races";
  private static final int WRITERS = 4;
  private static final int BATCHES = 25;
  private static final int PER_BATCH = 2;
  private static final int CHANGES = WRITERS * BATCHES * PER_BATCH;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @Test
  void everyOpenStreamGetsEveryChangeOnceInOrderWhileOthersEndAndOneStopsReading() throws Exception {
    Subscription scope = Subscription.newBuilder().addScopes(SCOPE).build();
    List<StreamClient> readers = new ArrayList<>();
    List<StreamClient> ending = new ArrayList<>();
    try (StreamClient unready = new StreamClient(server.channel(), false)) {
      for (int i = 0; i < 6; i++) {
        readers.add(new StreamClient(server.channel()));
        readers.getLast().hello("races-reader-" + i, "", scope);
      }
      for (int i = 0; i < 3; i++) {
        ending.add(new StreamClient(server.channel()));
        ending.getLast().hello("races-ending-" + i, "", scope);
      }
      unready.hello("races-unready", "", scope);
      for (StreamClient stream : readers) {
        stream.awaitLive();
      }
      for (StreamClient stream : ending) {
        stream.awaitLive();
      }
      awaitLive("races-unready");

      // 2 KB documents: a few dozen fill the HTTP/2 window of the stream that reads nothing, so its transport turns
      // unready in the middle of the writes.
      Struct bulky = Struct.newBuilder().putFields("text", Value.newBuilder().setStringValue("x".repeat(2_000))
          .build()).build();
      ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
      List<CompletableFuture<Void>> writes = new ArrayList<>();
      for (int w = 0; w < WRITERS; w++) {
        int writer = w;
        writes.add(CompletableFuture.runAsync(() -> {
          for (int b = 0; b < BATCHES; b++) {
            List<Delta> deltas = new ArrayList<>();
            for (int i = 0; i < PER_BATCH; i++) {
              deltas.add(Deltas.create(id(writer, b * PER_BATCH + i), bulky).toBuilder().setScope(SCOPE).build());
            }
            server.sync().push(PushRequest.newBuilder().setClientId("races-writer-" + writer).addAllDeltas(deltas)
                .build());
          }
        }, writers));
      }
      // Streams end while pages are being delivered to them.
      for (StreamClient stream : ending) {
        stream.awaitChanges(1);
        stream.close();
      }
      CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
      writers.shutdown();

      for (StreamClient stream : readers) {
        assertEveryChangeOnceInOrder(stream.awaitChanges(CHANGES));
      }
      unready.startReading();
      assertEveryChangeOnceInOrder(unready.awaitChanges(CHANGES));

      // The ended streams are gone from the server, and the feed still serves everyone.
      awaitGone("races-ending-");
      server.sync().push(PushRequest.newBuilder().setClientId("races-last")
          .addDeltas(Deltas.create("last", bulky).toBuilder().setScope(SCOPE)).build());
      for (StreamClient stream : readers) {
        assertThat(stream.awaitChanges(CHANGES + 1).getLast().getEntity().getEntityId()).isEqualTo("last");
      }
      assertThat(unready.awaitChanges(CHANGES + 1).getLast().getEntity().getEntityId()).isEqualTo("last");
    } finally {
      readers.forEach(StreamClient::close);
      ending.forEach(StreamClient::close);
    }
  }

  private static String id(int writer, int seq) {
    return "w" + writer + "-" + String.format("%04d", seq);
  }

  private static void assertEveryChangeOnceInOrder(List<Change> received) {
    List<String> ids = received.stream().map(c -> c.getEntity().getEntityId()).toList();
    assertThat(ids).hasSize(CHANGES).doesNotHaveDuplicates();
    for (int w = 0; w < WRITERS; w++) {
      String prefix = "w" + w + "-";
      List<String> ofWriter = ids.stream().filter(id -> id.startsWith(prefix)).toList();
      // Each writer pushed its batches one after the other: commit order is its order.
      assertThat(ofWriter).hasSize(BATCHES * PER_BATCH).isSortedAccordingTo(Comparator.naturalOrder());
    }
  }

  private static void awaitLive(String clientId) throws InterruptedException {
    for (int i = 0; i < 600; i++) {
      if (server.server().sessions().stats().stream()
          .anyMatch(s -> s.clientId().equals(clientId) && s.state() == SyncSession.State.LIVE)) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError(clientId + " never went live: " + server.server().sessions().stats());
  }

  private static void awaitGone(String clientIdPrefix) throws InterruptedException {
    for (int i = 0; i < 600; i++) {
      if (server.server().sessions().stats().stream().noneMatch(s -> s.clientId().startsWith(clientIdPrefix))) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("streams of " + clientIdPrefix + " still open: " + server.server().sessions().stats());
  }
}

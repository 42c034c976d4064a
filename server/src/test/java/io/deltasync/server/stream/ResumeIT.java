package io.deltasync.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.changefeed.Cursor;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Change;
import io.deltasync.v1.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A client that was away gets exactly what it missed, in commit order, even when writers committed out of order. */
class ResumeIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final int WRITERS = 5;
  private static final int PER_WRITER = 200;

  @Test
  void aReconnectingClientReceivesExactlyTheThousandChangesItMissed() throws Exception {
    String cursor;
    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("phone", "", Subscription.newBuilder().addScopes("resume").build());
      phone.awaitLive();
      cursor = phone.cursor();
      phone.ackReached();
    }

    long seed = 20261125L;
    try (ExecutorService pool = Executors.newFixedThreadPool(WRITERS)) {
      List<Future<?>> writers = startWriters(pool, "resume", seed);
      for (Future<?> writer : writers) {
        writer.get();
      }
    }
    List<String> missed = server.sql().fetch("select entity_id from change_log where scope = 'resume' "
        + "order by tx_id, change_id").getValues(0, String.class);
    assertThat(missed).hasSize(WRITERS * PER_WRITER);

    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("phone", cursor, Subscription.newBuilder().addScopes("resume").build());
      List<Change> received = phone.awaitChanges(WRITERS * PER_WRITER);
      phone.awaitLive();
      phone.drainReceived();

      assertThat(phone.changes()).as("seed %d", seed).extracting(c -> c.getEntity().getEntityId())
          .containsExactlyElementsOf(missed);
      assertThat(received.stream().map(c -> Cursor.decode(c.getCursor()).orElseThrow()).toList()).isSorted();
    }
  }

  @Test
  void clientsJoiningWhileWritersCommitOutOfOrderMissNothingAcrossTheCatchUpToLiveSeam() throws Exception {
    String cursor;
    try (StreamClient phone = new StreamClient(server.channel())) {
      phone.hello("seam-phone", "", Subscription.newBuilder().addScopes("seam").build());
      phone.awaitLive();
      cursor = phone.cursor();
    }
    long seed = 77L;
    List<StreamClient> joiners = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(WRITERS)) {
      List<Future<?>> writers = startWriters(pool, "seam", seed);
      // Clients arrive while the writers run: some resume from a cursor, some start from nothing.
      for (int j = 0; j < 10; j++) {
        Thread.sleep(15);
        StreamClient joiner = new StreamClient(server.channel());
        joiner.hello("joiner-" + j, j % 2 == 0 ? cursor : "", Subscription.newBuilder().addScopes("seam").build());
        joiners.add(joiner);
      }
      for (Future<?> writer : writers) {
        writer.get();
      }
    }
    List<String> all = server.sql().fetch("select entity_id from change_log where scope = 'seam' "
        + "order by tx_id, change_id").getValues(0, String.class);
    try {
      for (int j = 0; j < joiners.size(); j++) {
        StreamClient joiner = joiners.get(j);
        if (j % 2 == 0) {
          // Resumed from a cursor before every write: exactly the log, in order, once.
          assertThat(joiner.awaitChanges(all.size())).as("seed %d joiner %d", seed, j)
              .extracting(c -> c.getEntity().getEntityId()).containsExactlyElementsOf(all);
        } else {
          // Started from nothing: current state, then what came after; together every entity, none lost.
          List<String> seen = new ArrayList<>();
          while (!new java.util.HashSet<>(seen).containsAll(all)) {
            joiner.await(m -> m.hasChanges(), "changes for joiner " + j);
            seen = joiner.changes().stream().map(c -> c.getEntity().getEntityId()).toList();
          }
          assertThat(seen).as("seed %d joiner %d", seed, j).containsAll(all);
        }
        joiner.assertOpen();
      }
    } finally {
      joiners.forEach(StreamClient::close);
    }
  }

  /** Starts the writers, each with its own generator derived from {@code seed}. */
  private static List<Future<?>> startWriters(ExecutorService pool, String scope, long seed) {
    List<Future<?>> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      int writer = w;
      SplittableRandom random = new SplittableRandom(seed + w);
      writers.add(pool.submit(() -> {
        write(scope, writer, random);
        return null;
      }));
    }
    return writers;
  }

  /** Plain-SQL writers holding transactions open for random times, so commits land out of id order. */
  private static void write(String scope, int writer, SplittableRandom random) throws Exception {
    try (Connection connection = server.database().dataSource().getConnection()) {
      connection.setAutoCommit(false);
      for (int i = 0; i < PER_WRITER; ) {
        int inThisTransaction = Math.min(PER_WRITER - i, 1 + random.nextInt(4));
        for (int j = 0; j < inThisTransaction; j++, i++) {
          try (PreparedStatement insert = connection.prepareStatement(
              "insert into entity (scope, entity_type, entity_id) values (?, 'note', ?)")) {
            insert.setString(1, scope);
            insert.setString(2, "w" + writer + "-" + i);
            insert.executeUpdate();
          }
          if (random.nextInt(4) == 0) {
            Thread.sleep(random.nextInt(1, 5));
          }
        }
        connection.commit();
      }
    }
  }
}

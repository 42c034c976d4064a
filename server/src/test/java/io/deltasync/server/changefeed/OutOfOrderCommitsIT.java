package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Change;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Property: however concurrent transactions interleave their commits, a reader paging from cursor to cursor
 * while they run sees every committed change exactly once, and in the order of the change log's positions.
 * Writers hold their transactions open for random times so that commits land out of id order.
 */
class OutOfOrderCommitsIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final int WRITERS = 6;
  private static final int TRANSACTIONS_PER_WRITER = 25;

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {7L, 2026L})
  void aReaderRacingTheWritersMissesNothingAndSeesNothingTwice(long seed) throws Exception {
    String scope = "race-" + seed;
    AtomicBoolean writing = new AtomicBoolean(true);
    List<Change> seen = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1)) {
      List<Future<Integer>> writers = new ArrayList<>();
      for (int w = 0; w < WRITERS; w++) {
        SplittableRandom random = new SplittableRandom(seed * 31 + w);
        int writer = w;
        writers.add(pool.submit(() -> write(scope, writer, random)));
      }
      Future<?> reader = pool.submit(() -> {
        String cursor = "";
        boolean lastRound = false;
        while (true) {
          boolean done = !writing.get();
          PullResponse page = server.sync().pull(PullRequest.newBuilder().setCursor(cursor).setPageSize(7)
              .addScopes(scope).build());
          seen.addAll(page.getChangesList());
          cursor = page.getNextCursor();
          if (!page.getHasMore() && page.getChangesCount() == 0) {
            if (lastRound) {
              return null;
            }
            lastRound = done;  // one more empty read after the writers finished: everything is visible
          }
        }
      });
      int written = 0;
      for (Future<Integer> writer : writers) {
        written += writer.get();
      }
      writing.set(false);
      reader.get();

      assertThat(written).isEqualTo(WRITERS * TRANSACTIONS_PER_WRITER * 2);
    }

    Set<String> keys = new HashSet<>();
    for (Change change : seen) {
      assertThat(keys.add(change.getEntity().getEntityId() + "@" + change.getEntity().getRowVersion()))
          .as("seed %d: delivered twice: %s", seed, change.getEntity().getEntityId()).isTrue();
    }
    List<String> logged = server.sql().fetch("select entity_id || '@' || row_version from change_log "
        + "where scope = ? order by tx_id, change_id", scope).getValues(0, String.class);
    assertThat(seen.stream().map(c -> c.getEntity().getEntityId() + "@" + c.getEntity().getRowVersion()).toList())
        .as("seed %d", seed).containsExactlyElementsOf(logged);
    List<Cursor> positions = seen.stream().map(c -> Cursor.decode(c.getCursor()).orElseThrow()).toList();
    assertThat(positions).as("seed %d", seed).isSorted();
  }

  /** Each transaction inserts an entity and updates it, pausing inside the transaction at random. */
  private int write(String scope, int writer, SplittableRandom random) throws Exception {
    int rows = 0;
    try (Connection connection = server.database().dataSource().getConnection()) {
      connection.setAutoCommit(false);
      for (int t = 0; t < TRANSACTIONS_PER_WRITER; t++) {
        String id = "w" + writer + "-" + t;
        try (PreparedStatement insert = connection.prepareStatement(
            "insert into entity (scope, entity_type, entity_id, data) values (?, 'note', ?, '{}')")) {
          insert.setString(1, scope);
          insert.setString(2, id);
          insert.executeUpdate();
        }
        Thread.sleep(random.nextInt(0, 8));
        try (PreparedStatement update = connection.prepareStatement(
            "update entity set data = '{\"touched\": true}' where scope = ? and entity_id = ?")) {
          update.setString(1, scope);
          update.setString(2, id);
          update.executeUpdate();
        }
        Thread.sleep(random.nextInt(0, 8));
        connection.commit();
        rows += 2;
      }
    }
    return rows;
  }
}

package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.ServerConfig;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestPostgres;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Subscription;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A push received on a Sync stream that has since ended must not be applied once it gets its turn: the client has
 * given up on it (and may have sent that write again, or something else, on its next stream). The two-node long run
 * of the reliability suite (docs/reliability.md) saw a write land after every client was live with an empty outbox.
 *
 * <p>The stream's pushes run on the session's own executor, outside the gRPC call's context, so the write path's
 * check of {@code Context#isCancelled} never saw the stream end. Here a push waits for its entity's admission (the
 * entity's first writer waits for a row lock the test holds), its stream is cancelled, and the lock is released: the
 * push must write nothing. A third push of the entity, queued behind it in admission, tells the test when the
 * cancelled one has had its turn.
 */
class EndedStreamPushIT {
  private static final Pattern WAITING = Pattern.compile("(?m)^deltasync_admission_waiting(?:\\{[^}]*})? (\\S+)$");
  private static final Pattern SESSIONS = Pattern.compile("(?m)^deltasync_sessions\\{[^}]*} (\\S+)$");

  @Test
  void aPushWaitingForAdmissionWhenItsStreamEndsWritesNothing() throws Exception {
    TestPostgres.TestDatabase db = TestPostgres.newDatabase();
    ServerConfig config = TestServerConfig.from(Map.of("DELTASYNC_METRICS_PORT", "0",
            "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0", "DELTASYNC_ADMISSION_WAIT_MILLIS", "600000"))
        .withPort(0).withDatabase(db.url(), db.user(), db.password());
    try (DeltaSyncServer server = DeltaSyncServer.start(config)) {
      ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      HttpClient http = HttpClient.newHttpClient();
      URI metrics = URI.create("http://127.0.0.1:" + server.metricsPort().getAsInt() + "/metrics");
      Subscription team = Subscription.newBuilder().addScopes("team-a").build();
      try (StreamClient first = new StreamClient(channel); StreamClient gone = new StreamClient(channel);
          StreamClient third = new StreamClient(channel); Connection holder = db.dataSource().getConnection()) {
        first.hello("first", "", team);
        gone.hello("gone", "", team);
        third.hello("third", "", team);
        first.awaitLive();
        gone.awaitLive();
        third.awaitLive();
        first.push("setup", create("hot", doc("v", "0")));
        assertThat(first.awaitResults("setup").getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);

        holder.setAutoCommit(false);
        try (Statement lock = holder.createStatement()) {
          lock.execute("select 1 from entity where entity_id = 'hot' for update");
        }
        first.push("a", update("hot", 1, doc("v", "a")));
        await("the first push waits for the row lock inside its transaction", () -> lockWaiters(db) == 1);
        Delta abandoned = update("hot", 2, doc("v", "gone"));
        gone.push("b", abandoned);
        await("the second push waits for the entity's admission", () -> scrape(http, metrics, WAITING) == 1);
        third.push("c", update("hot", 2, doc("v", "c")));
        await("the third push waits behind it", () -> scrape(http, metrics, WAITING) == 2);

        gone.close(); // the client gives up on its stream (an app killed, a network lost)
        await("the server has ended the abandoned stream", () -> scrape(http, metrics, SESSIONS) == 2);
        holder.rollback();

        assertThat(first.awaitResults("a").getResults(0).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
        // Admission is first come, first served: the third push ran after the abandoned one had its turn.
        assertThat(third.awaitResults("c").getResults(0).getStatus()).isIn(DeltaStatus.DELTA_STATUS_APPLIED,
            DeltaStatus.DELTA_STATUS_CONFLICT);
      }
      try (Connection sql = db.dataSource().getConnection()) {
        assertThat(count(sql, "select count(*) from applied_delta where client_id = 'gone'"))
            .as("no idempotency record of the abandoned push").isZero();
        assertThat(count(sql, "select count(*) from change_log where client_id = 'gone'"))
            .as("no change-log row of the abandoned push").isZero();
        assertThat(count(sql, "select row_version from entity where entity_id = 'hot'"))
            .as("the create, the first and the third push").isEqualTo(3);
      }
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static long count(Connection sql, String query) throws Exception {
    try (PreparedStatement s = sql.prepareStatement(query); ResultSet rows = s.executeQuery()) {
      rows.next();
      return rows.getLong(1);
    }
  }

  private static int lockWaiters(TestPostgres.TestDatabase db) throws Exception {
    try (Connection sql = db.dataSource().getConnection()) {
      return (int) count(sql, "select count(*) from pg_stat_activity where datname = current_database() "
          + "and application_name = 'deltasync' and wait_event_type = 'Lock'");
    }
  }

  /** The sum of a metric's samples in a scrape of the server's metrics port. */
  private static double scrape(HttpClient http, URI metrics, Pattern metric) throws Exception {
    String body = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = metric.matcher(body);
    double sum = 0;
    boolean found = false;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
      found = true;
    }
    assertThat(found).as("%s in the scrape", metric).isTrue();
    return sum;
  }

  /** Waits for a condition the test needs before its next step; a guard against a hang, never a timing check. */
  private static void await(String what, Check condition) throws Exception {
    long guard = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!condition.holds()) {
      if (System.nanoTime() > guard) {
        throw new AssertionError("not reached within the guard: " + what);
      }
      Thread.sleep(20);
    }
  }

  private interface Check {
    boolean holds() throws Exception;
  }
}

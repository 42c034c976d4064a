package io.deltasync.server.stream;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.Subscription;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A saturated connection pool is a busy server, not a dead database: health stays SERVING, streams wait and then
 * complete instead of being told to reconnect, and pushes are answered RESOURCE_EXHAUSTED with retry advice.
 */
class BusyPoolIT {
  private static final int ENTITIES = 5_000;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_DB_POOL_SIZE", "2")).withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  private static Subscription scope(String scope) {
    return Subscription.newBuilder().addScopes(scope).build();
  }

  /** Watches health from another thread and records every status it saw. */
  private static final class HealthWatch implements AutoCloseable {
    final Set<ServingStatus> seen = ConcurrentHashMap.newKeySet();
    final AtomicBoolean running = new AtomicBoolean(true);
    final Thread thread;

    HealthWatch() {
      HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(server.channel());
      thread = Thread.ofPlatform().start(() -> {
        while (running.get()) {
          seen.add(health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
          try {
            Thread.sleep(100);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      thread.join();
    }
  }

  @Test
  void everyPooledConnectionHeldLongerThanTheWait() throws Exception {
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) select 'held', 'note', "
        + "'n-' || lpad(i::text, 5, '0'), '{}'::jsonb from generate_series(1, 100) i");
    List<StreamClient> streams = new ArrayList<>();
    try (HealthWatch watch = new HealthWatch()) {
      // Both of the server's pooled connections are taken for longer than a request waits for one (5 s), and
      // longer than a health-check period.
      Connection first = server.server().database().dataSource().getConnection();
      Connection second = server.server().database().dataSource().getConnection();
      DeltaResult busy;
      try {
        for (int i = 0; i < 5; i++) {
          StreamClient stream = new StreamClient(server.channel());
          streams.add(stream);
          stream.hello("held-" + i, "", scope("held"));
        }
        busy = server.sync().push(PushRequest.newBuilder().setClientId("pusher")
            .addDeltas(create("p-1", doc("v", "1"))).addDeltas(create("p-2", doc("v", "2"))).build())
            .getResults(1);
        Thread.sleep(2_000);
      } finally {
        first.close();
        second.close();
      }
      assertThat(busy.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
      assertThat(busy.getError().getCode()).isEqualTo(Code.RESOURCE_EXHAUSTED_VALUE);
      assertThat(busy.getError().getDetailsList()).anySatisfy(any ->
          assertThat(any.unpack(ErrorInfo.class).getReason()).isEqualTo("SERVER_BUSY"));
      assertThat(busy.getError().getDetailsList()).anyMatch(any -> any.is(RetryInfo.class));

      for (StreamClient stream : streams) {
        stream.awaitLive();
        stream.assertOpen();
        assertThat(stream.changes()).hasSize(100);
      }
      assertThat(watch.seen).as("health while the pool was saturated").containsOnly(ServingStatus.SERVING);
    } finally {
      streams.forEach(StreamClient::close);
    }
  }

  @Test
  void liveDeliveryGoesOnWhileEveryPooledConnectionIsHeld() throws Exception {
    try (StreamClient live = new StreamClient(server.channel())) {
      live.hello("live-while-busy", "", scope("busy-live"));
      live.awaitLive();
      Connection first = server.server().database().dataSource().getConnection();
      Connection second = server.server().database().dataSource().getConnection();
      try {
        // Longer than a request waits for a connection and than the live reader's periodic epoch check: neither
        // may make the reader wait for the pool.
        Thread.sleep(6_000);
        server.sql().execute("insert into entity (scope, entity_type, entity_id) values ('busy-live', 'note', 'x')");
        assertThat(live.awaitChanges(1)).extracting(c -> c.getEntity().getEntityId()).containsExactly("x");
        live.assertOpen();
      } finally {
        first.close();
        second.close();
      }
    }
  }

  @Test
  void pooledConnectionsCarryTheStatementTimeout() {
    assertThat(server.server().database().dsl().resultQuery("show statement_timeout").fetchSingle().get(0))
        .isEqualTo("30s");
  }

  @Test
  void fiftyNewStreamsAndFourPushLoopsOnAPoolOfTwo() throws Exception {
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) select 'big', 'note', "
        + "'n-' || lpad(i::text, 5, '0'), jsonb_build_object('i', i) from generate_series(1, " + ENTITIES + ") i");
    AtomicBoolean pushing = new AtomicBoolean(true);
    AtomicInteger applied = new AtomicInteger();
    ExecutorService pushers = Executors.newFixedThreadPool(4);
    List<StreamClient> streams = new ArrayList<>();
    try (HealthWatch watch = new HealthWatch()) {
      List<Future<?>> loops = new ArrayList<>();
      for (int p = 0; p < 4; p++) {
        int pusher = p;
        loops.add(pushers.submit(() -> {
          for (int n = 0; pushing.get(); n++) {
            DeltaResult result = server.sync().push(PushRequest.newBuilder().setClientId("loop-" + pusher)
                .addDeltas(create("loop-" + pusher + "-" + n, doc("n", Integer.toString(n)))
                    .toBuilder().setScope("other").build()).build()).getResults(0);
            if (result.getStatus() == DeltaStatus.DELTA_STATUS_APPLIED) {
              applied.incrementAndGet();
            }
          }
        }));
      }
      for (int i = 0; i < 50; i++) {
        StreamClient stream = new StreamClient(server.channel());
        streams.add(stream);
        stream.hello("reader-" + i, "", scope("big"));
      }
      for (StreamClient stream : streams) {
        stream.awaitLive();
        stream.assertOpen();
        assertThat(stream.changes()).hasSizeGreaterThanOrEqualTo(ENTITIES);
      }
      pushing.set(false);
      for (Future<?> loop : loops) {
        loop.get();
      }
      assertThat(applied.get()).as("pushes went through while the streams loaded").isPositive();
      assertThat(watch.seen).containsOnly(ServingStatus.SERVING);
    } finally {
      pushing.set(false);
      pushers.shutdownNow();
      streams.forEach(StreamClient::close);
    }
  }
}

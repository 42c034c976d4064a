package io.deltasync.server.admission;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.Subscription;
import io.deltasync.v1.SyncResponse;
import java.sql.Connection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A hello that waits for its turn (DELTASYNC_HELLO_CONCURRENCY) longer than DELTASYNC_HELLO_WAIT_MILLIS is answered
 * RESOURCE_EXHAUSTED / SERVER_BUSY with retry advice, on a stream that stays open for the hello sent again.
 */
class HelloWaitIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config ->
      TestServerConfig.from(Map.of("DELTASYNC_DB_POOL_SIZE", "2", "DELTASYNC_HELLO_CONCURRENCY", "1",
              "DELTASYNC_HELLO_WAIT_MILLIS", "500", "DELTASYNC_WARMUP_ITERATIONS", "20",
              "DELTASYNC_SHUTDOWN_DRAIN_SECONDS", "0"))
          .withPort(0)
          .withDatabase(config.databaseUrl().orElseThrow(), config.databaseUser(), config.databasePassword()));

  private static Subscription scope(String scope) {
    return Subscription.newBuilder().addScopes(scope).build();
  }

  @Test
  void aHelloThatWaitsTooLongIsToldToRetryAndItsRetryGetsLive() throws Exception {
    try (StreamClient one = new StreamClient(server.channel());
        StreamClient other = new StreamClient(server.channel())) {
      // Every pooled connection held: the stream that takes the one turn keeps it while its hello waits for a
      // connection, and the other hello waits for the turn longer than DELTASYNC_HELLO_WAIT_MILLIS.
      Connection a = server.server().database().dataSource().getConnection();
      Connection b = server.server().database().dataSource().getConnection();
      StreamClient refusedStream;
      SyncResponse refused;
      try {
        one.hello("turn-1", "", scope("turns"));
        other.hello("turn-2", "", scope("turns"));
        refused = null;
        refusedStream = null;
        // A safety net as StreamClient's (never a timing assertion): a server that admits both never refuses.
        long giveUp = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
        while (refused == null) {
          if (System.nanoTime() - giveUp > 0) {
            throw new AssertionError("neither hello was refused while the other held the only turn");
          }
          for (StreamClient stream : List.of(one, other)) {
            for (SyncResponse response : stream.drainReceived()) {
              if (response.hasError()) {
                refused = response;
                refusedStream = stream;
              }
            }
          }
          Thread.sleep(20);
        }
      } finally {
        a.close();
        b.close();
      }
      com.google.rpc.Status status = refused.getError().getStatus();
      assertThat(status.getCode()).isEqualTo(Code.RESOURCE_EXHAUSTED_VALUE);
      assertThat(status.getMessage()).contains("DELTASYNC_HELLO_WAIT_MILLIS");
      assertThat(status.getDetailsList()).anySatisfy(any ->
          assertThat(any.unpack(ErrorInfo.class).getReason()).isEqualTo("SERVER_BUSY"));
      assertThat(status.getDetailsList()).anyMatch(any -> any.is(RetryInfo.class));

      StreamClient admitted = refusedStream == one ? other : one;
      admitted.awaitLive();
      refusedStream.assertOpen();
      refusedStream.hello(refusedStream == one ? "turn-1" : "turn-2", "", scope("turns"));
      refusedStream.awaitLive();
    }
  }
}

package io.deltasync.server.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ScaleConfig;
import io.deltasync.server.store.Position;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

class DeliveryWarmupTest {
  @Test
  void zeroTurnsItOff() {
    ScaleConfig off = ScaleConfig.defaults().withDeliveryWarmup(Duration.ZERO, 8);
    DeliveryWarmup.Result result = DeliveryWarmup.run(off, Position.START, 1, Runnable::run, 4 << 20,
        (feed, telemetry, authenticator) -> {
          throw new AssertionError("a warm-up that is off binds no service");
        });
    assertThat(result).isEqualTo(DeliveryWarmup.Result.NONE);
  }

  @Test
  void aFailureIsReportedNotThrown() {
    ScaleConfig on = ScaleConfig.defaults().withDeliveryWarmup(Duration.ofSeconds(5), 8);
    try (ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
      DeliveryWarmup.Result result = DeliveryWarmup.run(on, Position.START, 1, executor, 4 << 20,
          (feed, telemetry, authenticator) -> {
            throw new IllegalStateException("the service cannot be built");
          });
      assertThat(result.failure()).contains("the service cannot be built");
      assertThat(result.pages()).isZero();
    }
  }
}

package io.deltasync.server.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.ScaleConfig;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A warm-up that fails, or runs out of time, returns what it did and leaves no temporary table behind; it never
 * throws (the server starts colder, not never). Real PostgreSQL, the server's own database.
 */
class WarmupFailureIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final ScaleConfig ON = ScaleConfig.from(Map.of()).withWarmup(true, 50, Duration.ofMinutes(1));

  private long temporaryRelations() {
    return ((Number) server.sql().fetchValue("select count(*) from pg_class where relpersistence = 't'"))
        .longValue();
  }

  @Test
  void aWriteThatFailsStopsTheWarmupAndItsTablesAreDropped() {
    Warmup.Result result = Warmup.run(ON, server.database().dataSource(), server.sql(),
        store -> (client, deltas) -> {
          throw new IllegalStateException("the write path failed");
        }, 1, 4 * 1024 * 1024);

    assertThat(result.rounds()).isZero();
    assertThat(result.stoppedByDeadline()).isFalse();
    assertThat(temporaryRelations()).isZero();
  }

  @Test
  void aDatabaseThatRefusesTheConnectionOnlyLeavesTheCodeCold() {
    DataSource refusing = new PGSimpleDataSource() {
      @Override
      public Connection getConnection() throws SQLException {
        throw new SQLException("connection refused (test)", "08001");
      }
    };

    Warmup.Result result = Warmup.run(ON, refusing, server.sql(), store -> (client, deltas) -> {
      throw new AssertionError("never reached");
    }, 1, 4 * 1024 * 1024);

    assertThat(result.rounds()).isZero();
    assertThat(result.pushes()).isZero();
  }

  @Test
  void theTimeBoundEndsItAndItsTablesAreDropped() {
    ScaleConfig bounded = ON.withWarmup(true, 1_000_000, Duration.ofNanos(1));

    Warmup.Result result = Warmup.run(bounded, server.database().dataSource(), server.sql(),
        store -> (client, deltas) -> {
          throw new AssertionError("no round starts after the bound");
        }, 1, 4 * 1024 * 1024);

    assertThat(result.stoppedByDeadline()).isTrue();
    assertThat(result.rounds()).isZero();
    assertThat(temporaryRelations()).isZero();
  }

  @Test
  void offRunsNothing() {
    Warmup.Result result = Warmup.run(ON.withWarmup(false, 50, Duration.ofMinutes(1)),
        server.database().dataSource(), server.sql(), store -> {
          throw new AssertionError("not built when off");
        }, 1, 4 * 1024 * 1024);

    assertThat(result).isEqualTo(Warmup.Result.NONE);
  }
}

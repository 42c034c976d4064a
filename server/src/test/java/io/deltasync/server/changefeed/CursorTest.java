package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CursorTest {
  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1L, 2L, 3L})
  void encodeDecodeRoundTrips(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < 1_000; i++) {
      Cursor cursor = new Cursor(random.nextLong(1, 1L << 53), random.nextLong(), random.nextLong(0, Long.MAX_VALUE));
      assertThat(Cursor.decode(cursor.encode())).as("seed %d", seed).contains(cursor);
      assertThat(cursor.encode()).matches("[A-Za-z0-9_-]+");
    }
  }

  @Test
  void garbageIsNotACursor() {
    assertThat(Cursor.decode("not base64 !")).isEmpty();
    assertThat(Cursor.decode("aGVsbG8")).isEmpty();  // "hello"
    String valid = new Cursor(7, 100, 5).encode();
    assertThat(Cursor.decode(valid.substring(0, valid.length() - 3))).isEmpty();
  }

  @Test
  void positionsOrderByTransactionThenRow() {
    assertThat(new Cursor(1, 10, 99)).isLessThan(new Cursor(1, 11, 1));
    assertThat(new Cursor(1, 10, 1)).isLessThan(new Cursor(1, 10, 2));
  }
}

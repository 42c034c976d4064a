package io.deltasync.server.changefeed;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.store.EntityKey;
import java.util.SplittableRandom;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
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

  @Test
  void anInitialStatePositionRoundTripsWithAnyKeyAndIsNoChangeLogCursor() {
    Cursor at = new Cursor(3, 41_000, Long.MAX_VALUE, 1_700_000_000_000_000L);
    for (EntityKey key : List.of(new EntityKey("org:1/team.a", "task.v2", "id.with.dots"),
        new EntityKey("s", "t", "ünïcode ✓ and spaces / slashes"), new EntityKey("s", "t", "=+/"))) {
      Cursor.InInitialState position = new Cursor.InInitialState(at, key);
      String wire = position.encode();
      assertThat(wire).matches("[A-Za-z0-9_-]+");
      assertThat(Cursor.InInitialState.decode(wire)).contains(position);
      // Old code paths that only know change-log cursors never misread one as a position in the log.
      assertThat(Cursor.decode(wire)).isEmpty();
    }
    assertThat(Cursor.InInitialState.decode(at.encode())).isEmpty();
    assertThat(Cursor.InInitialState.decode("")).isEmpty();
  }

  @Test
  void anAlteredInitialStatePositionIsRefused() {
    String wire = new Cursor.InInitialState(new Cursor(3, 41_000, 7, 9), new EntityKey("s", "t", "k")).encode();
    String text = new String(Base64.getUrlDecoder().decode(wire), StandardCharsets.US_ASCII);
    String other = Base64.getUrlEncoder().withoutPadding().encodeToString(text.replace(".41000.", ".41001.")
        .getBytes(StandardCharsets.US_ASCII));
    assertThat(Cursor.InInitialState.decode(other)).isEmpty();
    assertThat(Cursor.InInitialState.decode(wire.substring(0, wire.length() - 2))).isEmpty();
  }
}

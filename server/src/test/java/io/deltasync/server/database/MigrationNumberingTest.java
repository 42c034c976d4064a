package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A migration numbered below one that databases already have stops every node at start-up: Flyway refuses to apply
 * it out of order ("Detected resolved migration not applied to database"), and an older node refuses a database
 * that has it. So a new migration takes a number above every released one, never a free number in a gap.
 */
class MigrationNumberingTest {
  /**
   * Versions that have been on main (and so may be in deployed databases). Append a migration's version here once it
   * is merged; 15, 17, 20 and 21 were never used.
   */
  private static final List<Integer> RELEASED = List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18, 19,
      22, 23, 24, 25);

  private static final Pattern VERSION = Pattern.compile("V(\\d+)__.+\\.sql");

  @Test
  void everyMigrationIsReleasedOrNumberedAboveEveryReleasedOne() throws IOException, URISyntaxException {
    URL first = getClass().getClassLoader().getResource("db/migration/V1__entities_change_log_idempotency.sql");
    assertThat(first).as("the migrations on the test classpath").isNotNull();
    int highest = RELEASED.stream().mapToInt(Integer::intValue).max().orElseThrow();
    // A directory when the reactor runs from classes, the db-schema jar otherwise.
    URI uri = first.toURI();
    try (FileSystem jar = uri.getScheme().equals("jar") ? FileSystems.newFileSystem(uri, Map.of()) : null;
        Stream<Path> files = Files.list(Path.of(uri).getParent())) {
      List<Integer> versions = files.map(f -> VERSION.matcher(f.getFileName().toString())).filter(Matcher::matches)
          .map(m -> Integer.parseInt(m.group(1))).toList();
      assertThat(versions).containsAll(RELEASED);
      for (int version : versions) {
        assertThat(RELEASED.contains(version) || version > highest)
            .as("V%d: below the released V%d but never released; renumber it above V%d", version, highest, highest)
            .isTrue();
      }
    }
  }
}

package io.deltasync.server.database;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
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

  /**
   * The text of each released migration (SHA-256 of the file with LF line ends, first 16 hex digits). Flyway keeps a
   * checksum of every migration a database ran and refuses to start on one whose file has changed since, even in a
   * comment: a change to a released migration goes into a new one. Add a migration's entry when you release it.
   */
  private static final Map<Integer, String> RELEASED_TEXT = Map.ofEntries(
      Map.entry(1, "3697548ef75fbfd7"),
      Map.entry(2, "6189ab410f3d4d75"),
      Map.entry(3, "5d57d13fb1c9731e"),
      Map.entry(4, "6a87a04cada784d2"),
      Map.entry(5, "a07451e7a7d5b685"),
      Map.entry(6, "d5f9b01a21a7e2fa"),
      Map.entry(7, "f8e3e2215e8c05b0"),
      Map.entry(8, "b1251ff05767ef2c"),
      Map.entry(9, "989b7d5e33fce386"),
      Map.entry(10, "63733dd4a568a9f8"),
      Map.entry(11, "6d8f1466d6b0ce34"),
      Map.entry(12, "118a60d69b043c0e"),
      Map.entry(13, "198611881bb43e42"),
      Map.entry(14, "9c8f3afd464790cd"),
      Map.entry(16, "dedccbc0b141f419"),
      Map.entry(18, "290f382c8faae6ec"),
      Map.entry(19, "61b0233664d258eb"),
      Map.entry(22, "fee0f811f9ea171b"),
      Map.entry(23, "b8e60ac000680904"),
      Map.entry(24, "f4d9fda48752090b"),
      Map.entry(25, "76c5f0b2363bcd1a"));

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

  @Test
  void releasedMigrationsAreNeverEdited() throws IOException, URISyntaxException, NoSuchAlgorithmException {
    assertThat(RELEASED_TEXT.keySet()).as("every released version has its text recorded")
        .containsExactlyInAnyOrderElementsOf(RELEASED);
    URI uri = getClass().getClassLoader().getResource("db/migration/V1__entities_change_log_idempotency.sql").toURI();
    try (FileSystem jar = uri.getScheme().equals("jar") ? FileSystems.newFileSystem(uri, Map.of()) : null;
        Stream<Path> files = Files.list(Path.of(uri).getParent())) {
      for (Path file : files.toList()) {
        Matcher name = VERSION.matcher(file.getFileName().toString());
        if (!name.matches() || !RELEASED_TEXT.containsKey(Integer.parseInt(name.group(1)))) {
          continue;
        }
        String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).replace("\r\n", "\n");
        String digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
            .digest(text.getBytes(StandardCharsets.UTF_8))).substring(0, 16);
        assertThat(digest).as("%s changed after its release: databases that ran it would refuse to start "
            + "(Flyway's checksum); put the change in a new migration", file.getFileName())
            .isEqualTo(RELEASED_TEXT.get(Integer.parseInt(name.group(1))));
      }
    }
  }
}

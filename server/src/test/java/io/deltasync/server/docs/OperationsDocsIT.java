package io.deltasync.server.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docs/operations.md and docs/kubernetes.yaml name only settings the server reads, and every setting the operations
 * configuration reads is documented in both the README and docs/operations.md.
 */
class OperationsDocsIT {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();
  private static final Pattern SETTING =
      Pattern.compile("\\b(DELTASYNC_[A-Z_]+|CLEANUP_[A-Z_]+_DAYS|OTEL_[A-Z_]+)\\b");

  @Test
  void theDocsNameOnlySettingsTheServerReads() throws IOException {
    Path main = ROOT.resolve("server/src/main");
    Set<String> read = settings(Files.readString(main.resolve("java/io/deltasync/server/ServerConfig.java"))
        + Files.readString(main.resolve("java/io/deltasync/server/OpsConfig.java"))
        + Files.readString(main.resolve("resources/logback.xml")));
    read.add("DELTASYNC_SKIP_BUILD");  // read by the launcher
    for (String doc : new String[] {"docs/operations.md", "docs/kubernetes.yaml"}) {
      assertThat(read).as(doc).containsAll(settings(Files.readString(ROOT.resolve(doc))));
    }
  }

  @Test
  void everyOperationsSettingIsDocumented() throws IOException {
    Set<String> ops = settings(Files.readString(
        ROOT.resolve("server/src/main/java/io/deltasync/server/OpsConfig.java")));
    assertThat(ops).contains("DELTASYNC_METRICS_PORT", "DELTASYNC_CLEANUP_CHANGE_LOG_DAYS", "DELTASYNC_LOG_FORMAT");
    assertThat(settings(Files.readString(ROOT.resolve("README.md")))).containsAll(ops);
    assertThat(settings(Files.readString(ROOT.resolve("docs/operations.md")))).containsAll(ops);
  }

  private static Set<String> settings(String text) {
    Set<String> names = new TreeSet<>();
    Matcher matcher = SETTING.matcher(text);
    while (matcher.find()) {
      names.add(matcher.group(1));
    }
    return names;
  }
}

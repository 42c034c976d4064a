package io.deltasync.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.deltasync.server.auth.AuthSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The HTTP port's settings: defaults, refusals, exposure rules, and that README and docs/http.md name them all. */
class WebConfigTest {
  private static final Path ROOT = Path.of(System.getProperty("deltasync.projectRoot", "..")).toAbsolutePath()
      .normalize();

  @Test
  void offByDefaultOnLoopbackWithTheConsole() {
    WebConfig web = ServerConfig.from(Map.of()).web();
    assertThat(web.port()).isEmpty();
    assertThat(web.host()).isEqualTo("127.0.0.1");
    assertThat(web.console()).isTrue();
    assertThat(WebConfig.from(Map.of("DELTASYNC_HTTP_PORT", "7421", "DELTASYNC_CONSOLE", "false")))
        .isEqualTo(new WebConfig(OptionalInt.of(7421), "127.0.0.1", false));
  }

  @Test
  void aBadPortIsRefusedNamingTheVariable() {
    assertThatThrownBy(() -> WebConfig.from(Map.of("DELTASYNC_HTTP_PORT", "70000")))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_HTTP_PORT: '70000'");
  }

  @Test
  void plaintextOrAnonymousAccessOffLoopbackIsRefusedAsOnTheGrpcPort() {
    WebConfig everywhere = WebConfig.from(Map.of("DELTASYNC_HTTP_PORT", "0", "DELTASYNC_HTTP_HOST", "0.0.0.0"));
    assertThatThrownBy(() -> everywhere.checkExposure(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token",
        "DELTASYNC_JWT_HS256_SECRET", "a-secret-of-at-least-32-bytes-0123456789"))))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_HTTP_HOST: '0.0.0.0' without TLS");
    assertThatThrownBy(() -> everywhere.checkExposure(AuthSettings.from(Map.of("DELTASYNC_AUTH", "none",
        "DELTASYNC_ALLOW_PLAINTEXT", "true"))))
        .isInstanceOf(ConfigException.class).hasMessageStartingWith("DELTASYNC_AUTH: 'none'");
    WebConfig.from(Map.of("DELTASYNC_HTTP_PORT", "0")).checkExposure(AuthSettings.from(Map.of("DELTASYNC_AUTH",
        "none")));
  }

  @Test
  void everySettingIsDocumented() throws Exception {
    Matcher names = Pattern.compile("\"(DELTASYNC_[A-Z_]+)\"").matcher(Files.readString(
        ROOT.resolve("server/src/main/java/io/deltasync/server/WebConfig.java")));
    java.util.Set<String> read = new java.util.TreeSet<>();
    while (names.find()) {
      read.add(names.group(1));
    }
    assertThat(read).containsExactlyInAnyOrder("DELTASYNC_HTTP_PORT", "DELTASYNC_HTTP_HOST", "DELTASYNC_CONSOLE");
    for (String doc : new String[] {"README.md", "docs/http.md"}) {
      String text = Files.readString(ROOT.resolve(doc));
      assertThat(read).allSatisfy(name -> assertThat(text).as(doc).contains("| `" + name + "` |"));
    }
  }
}

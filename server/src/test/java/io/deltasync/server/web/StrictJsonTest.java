package io.deltasync.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The strict rules of JSON request bodies (docs/http.md "Errors"). */
class StrictJsonTest {
  private static java.util.Optional<String> problem(String json) {
    return StrictJson.problem(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void ordinaryJsonPasses() {
    assertThat(problem("{\"a\":[1,2.5,-3e10,\"x\\ud83d\\ude00\",\"\uD83D\uDE00\",true,null,{}]}")).isEmpty();
    assertThat(problem("{\"n\":1.7976931348623157e308}")).isEmpty();
  }

  @Test
  void loneSurrogatesAreRefused() {
    assertThat(problem("{\"t\":\"a\\ud800b\"}")).get().asString().contains("lone surrogate");
    assertThat(problem("{\"t\":\"\\udc00\"}")).get().asString().contains("lone surrogate");
    assertThat(problem("{\"\\ud800\":1}")).get().asString().contains("lone surrogate");
  }

  @Test
  void numbersBeyondADoubleAreRefused() {
    assertThat(problem("{\"n\":1e400}")).get().asString().contains("beyond the range of a double");
    assertThat(problem("{\"n\":-1e400}")).isPresent();
    assertThat(problem("{\"n\":1" + "0".repeat(400) + "}")).isPresent();
  }

  @Test
  void invalidUtf8IsRefused() {
    byte[] body = "{\"t\":\"XX\"}".getBytes(StandardCharsets.UTF_8);
    body[6] = (byte) 0xC3;
    body[7] = (byte) 0x28;
    assertThat(StrictJson.problem(body)).get().asString().contains("UTF-8");
  }

  @Test
  void depthDuplicatesAndTrailingTokensAreRefused() {
    String deep = "{\"a\":".repeat(StrictJson.MAX_DEPTH) + "1" + "}".repeat(StrictJson.MAX_DEPTH);
    assertThat(problem(deep)).isEmpty();
    String deeper = "[".repeat(StrictJson.MAX_DEPTH + 1) + "]".repeat(StrictJson.MAX_DEPTH + 1);
    assertThat(problem(deeper)).get().asString().contains("nested deeper");
    assertThat(problem("{\"a\":1,\"a\":2}")).get().asString().contains("duplicate");
    assertThat(problem("{} {}")).get().asString().contains("follows");
    assertThat(problem("")).isPresent();
    assertThat(problem("{{{")).get().asString().startsWith("not JSON");
  }
}

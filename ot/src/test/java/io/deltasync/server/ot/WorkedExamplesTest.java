package io.deltasync.server.ot;

import static io.deltasync.server.ot.Fixtures.edits;
import static io.deltasync.server.ot.Fixtures.struct;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The worked examples of {@code docs/operational-transform.md}, run the way the server will run them: Alice's change
 * reached the server first, Bob's delta comes from the same base version, Bob's edits are transformed against
 * Alice's on the side given by the client ids, and Bob's client is sent Alice's edits transformed against his. The
 * last test checks that the document shows these exact JSON texts.
 */
class WorkedExamplesTest {

  /** One example: the JSON texts exactly as the documentation shows them. */
  record Example(String name, String document, String alice, String bob, String serverApplies, String bobReceives,
      String merged) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Example> examples() {
    return Stream.of(
        new Example("two users type at the same spot",
            """
            {"title": "Hi 👋 there"}""",
            """
            [{"path": [{"key": "title"}], "text": {"components": [{"retain": 4}, {"insert": " Alice"}]}}]""",
            """
            [{"path": [{"key": "title"}], "text": {"components": [{"retain": 4}, {"insert": " Bob"}]}}]""",
            """
            [{"path": [{"key": "title"}], "text": {"components": [{"retain": 10}, {"insert": " Bob"}]}}]""",
            """
            [{"path": [{"key": "title"}], "text": {"components": [{"retain": 4}, {"insert": " Alice"}]}}]""",
            """
            {"title": "Hi 👋 Alice Bob there"}"""),
        new Example("one moves an array item while another edits inside it",
            """
            {"todo": [{"text": "milk"}, {"text": "eggs"}, {"text": "bread"}]}""",
            """
            [{"path": [{"key": "todo"}], "arrayMove": {"fromIndex": 2, "toIndex": 0}}]""",
            """
            [{"path": [{"key": "todo"}, {"index": 2}, {"key": "text"}], "text": {"components": [{"insert": "rye "}]}}]""",
            """
            [{"path": [{"key": "todo"}, {"index": 0}, {"key": "text"}], "text": {"components": [{"insert": "rye "}]}}]""",
            """
            [{"path": [{"key": "todo"}], "arrayMove": {"fromIndex": 2, "toIndex": 0}}]""",
            """
            {"todo": [{"text": "rye bread"}, {"text": "milk"}, {"text": "eggs"}]}"""),
        new Example("one unsets a key another is setting inside",
            """
            {"name": "Kari", "address": {"city": "Oslo"}}""",
            """
            [{"objectUnset": {"key": "address"}}]""",
            """
            [{"path": [{"key": "address"}], "objectSet": {"key": "zip", "value": "0150"}}]""",
            """
            []""",
            """
            [{"objectUnset": {"key": "address"}}]""",
            """
            {"name": "Kari"}"""),
        new Example("one removes an array element another edits",
            """
            {"tags": ["red", "green", "blue"]}""",
            """
            [{"path": [{"key": "tags"}], "arrayRemove": {"index": 1, "count": 1}}]""",
            """
            [{"path": [{"key": "tags"}, {"index": 1}], "text": {"components": [{"insert": "dark "}]}},
             {"path": [{"key": "tags"}, {"index": 2}], "text": {"components": [{"insert": "light "}]}}]""",
            """
            [{"path": [{"key": "tags"}, {"index": 1}], "text": {"components": [{"insert": "light "}]}}]""",
            """
            [{"path": [{"key": "tags"}], "arrayRemove": {"index": 1, "count": 1}}]""",
            """
            {"tags": ["red", "light blue"]}"""),
        new Example("both set the same key",
            """
            {"status": "open"}""",
            """
            [{"objectSet": {"key": "status", "value": "done"}}]""",
            """
            [{"objectSet": {"key": "status", "value": "closed"}}]""",
            """
            []""",
            """
            [{"objectSet": {"key": "status", "value": "done"}}]""",
            """
            {"status": "done"}"""));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("examples")
  void mergesAsDocumented(Example example) throws Exception {
    Struct document = struct(example.document());
    List<Edit> alice = edits(example.alice());
    List<Edit> bob = edits(example.bob());

    Side bobsSide = Side.byClientId("bob", "alice");
    Transformed transformed = OperationalTransform.transformBoth(bob, alice, bobsSide);

    assertThat(bobsSide).isEqualTo(Side.RIGHT);
    assertThat(transformed.ops()).as("what the server applies for Bob").isEqualTo(edits(example.serverApplies()));
    assertThat(transformed.against()).as("what Bob's client receives").isEqualTo(edits(example.bobReceives()));
    Struct onServer = OperationalTransform.apply(OperationalTransform.apply(document, alice), transformed.ops());
    Struct onBobsClient = OperationalTransform.apply(OperationalTransform.apply(document, bob), transformed.against());
    assertThat(onServer).as("server: %s", Fixtures.json(onServer)).isEqualTo(struct(example.merged()));
    assertThat(onBobsClient).as("Bob's client: %s", Fixtures.json(onBobsClient)).isEqualTo(onServer);
  }

  @Test
  void theDocumentationShowsTheseExamples() throws Exception {
    // Tests run in the server module's directory.
    Path doc = Path.of("..", "docs", "operational-transform.md");
    String text = collapseWhitespace(Files.readString(doc, StandardCharsets.UTF_8));
    examples().forEach(example -> {
      assertThat(text.toLowerCase(Locale.ROOT)).as("docs/operational-transform.md has the example '%s'",
          example.name()).contains(example.name());
      for (String json : List.of(example.document(), example.alice(), example.bob(), example.serverApplies(),
          example.bobReceives(), example.merged())) {
        assertThat(text).as("docs/operational-transform.md, example '%s'", example.name())
            .contains(collapseWhitespace(json));
      }
    });
  }

  private static String collapseWhitespace(String text) {
    return text.replaceAll("\\s+", " ");
  }
}

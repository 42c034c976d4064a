package io.deltasync.sdk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** client/README.md's example is the code of {@link ReadmeExample}, which compiles with the tests. */
class ReadmeExampleTest {
  @Test
  void theReadmeShowsTheCompiledExample() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    Matcher block = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertThat(block.find()).as("a java block in client/README.md").isTrue();

    String source = Files.readString(Path.of("src/test/java/io/deltasync/sdk/ReadmeExample.java"));
    String between = source.substring(source.indexOf("// README:begin\n") + "// README:begin\n".length(),
        source.indexOf("    // README:end"));
    StringBuilder code = new StringBuilder();
    for (String line : between.split("\n", -1)) {
      code.append(line.startsWith("    ") ? line.substring(4) : line).append('\n');
    }
    assertThat(block.group(1).strip()).isEqualTo(code.toString().strip());
  }
}

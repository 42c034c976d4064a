package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.DeltaSyncServerExtension;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Two people typing into one text field, through the SDK, against a real server: both end with the server's text. */
class OtTypingIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final List<Object> TEXT = List.of("text");

  @TempDir
  Path dir;

  private Device device(String name, String scope) {
    return new Device(dir.resolve(name + ".db"), server.port(), b -> b.clientId(name).subscribe(null, scope));
  }

  private static String serverText(String scope, String id) {
    return server.sql().fetchOne("select data->>'text' from entity where scope = ? and entity_id = ?", scope, id)
        .get(0, String.class);
  }

  private static String text(Device device, EntityKey key) {
    return device.client.get(key).orElseThrow().data().getFieldsOrThrow("text").getStringValue();
  }

  private static int length(String text) {
    return text.codePointCount(0, text.length());
  }

  @Test
  void twoOfflineTypistsConvergeOnTheServersText() throws Exception {
    String scope = "typing-offline";
    EntityKey key = new EntityKey(scope, "note", "n");
    Device a = device("typist-a", scope);
    Device b = device("typist-b", scope);
    a.client.start();
    b.client.start();
    a.client.create("note", scope, "n", doc("text", "hello"));
    a.awaitSynced();
    await("b has the note", () -> b.client.get(key).map(e -> !e.pending() && e.serverVersion() == 1).orElse(false));
    a.kill();
    b.kill();

    try (Device a2 = device("typist-a", scope); Device b2 = device("typist-b", scope)) {
      a2.client.edit(key, List.of(Edits.insertText(TEXT, 0, ">> ")));
      a2.client.edit(key, List.of(Edits.insertText(TEXT, 8, " world")));
      b2.client.edit(key, List.of(Edits.insertText(TEXT, 5, "!")));
      b2.client.edit(key, List.of(Edits.insertText(TEXT, 6, "?")));
      assertThat(text(a2, key)).isEqualTo(">> hello world");
      assertThat(text(b2, key)).isEqualTo("hello!?");

      a2.client.start();
      a2.awaitSynced();
      b2.client.start();
      b2.awaitSynced();
      await("both show the server's text", () -> {
        String expected = serverText(scope, "n");
        return a2.client.pendingCount() == 0 && text(a2, key).equals(expected) && text(b2, key).equals(expected);
      });
      // B's second edit was made after its first and was rebased on the merge: its "?" still follows its "!".
      String result = serverText(scope, "n");
      assertThat(result).startsWith(">> hello").contains("!?").contains(" world").hasSize(16);
      assertThat(b2.rejected).isEmpty();
      assertThat(b2.conflicts).isNotEmpty().allSatisfy(r -> assertThat(r.getResolution().getPolicy().name())
          .isEqualTo("CONFLICT_POLICY_OPERATIONAL_TRANSFORM"));
    }
  }

  @Test
  void twoLiveTypistsConvergeKeepingEveryCharacter() throws Exception {
    String scope = "typing-live";
    EntityKey key = new EntityKey(scope, "note", "n");
    try (Device a = device("live-a", scope); Device b = device("live-b", scope)) {
      a.client.start();
      b.client.start();
      a.client.create("note", scope, "n", doc("text", "|"));
      a.awaitSynced();
      await("b has the note", () -> b.client.get(key).map(e -> !e.pending()).orElse(false));
      String upper = "ABCDEFGHIJKLMNOPQRSTUVWXY";
      String lower = "abcdefghijklmnopqrstuvwxy";
      for (int i = 0; i < 25; i++) {
        a.client.edit(key, List.of(Edits.insertText(TEXT, length(text(a, key)), upper.substring(i, i + 1))));
        b.client.edit(key, List.of(Edits.insertText(TEXT, 0, lower.substring(i, i + 1))));
      }
      await("both show the server's text", () -> {
        String expected = serverText(scope, "n");
        return a.client.pendingCount() == 0 && b.client.pendingCount() == 0
            && text(a, key).equals(expected) && text(b, key).equals(expected);
      });
      String result = serverText(scope, "n");
      // Every character where its typist put it: a's appended in order, b's each typed at the start.
      assertThat(result).isEqualTo(new StringBuilder(lower).reverse() + "|" + upper);
      assertThat(a.rejected).isEmpty();
      assertThat(b.rejected).isEmpty();
    }
  }
}

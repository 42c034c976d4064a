package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two people editing one entity's list and settings offline, through the SDK, against a real server: array inserts,
 * removes and moves and object sets and unsets, several deltas each, so the second to reconnect has its in-flight
 * delta merged by the server and the pending ones behind it rebased on {@code rebase_edits} by the SDK. Both end with
 * the server's document, which keeps every edit that does not conflict.
 */
class OtStructureIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private static final List<Object> ITEMS = List.of("items");
  private static final List<Object> PROPS = List.of("props");

  @TempDir
  Path dir;

  private Device device(String name, String scope) {
    return new Device(dir.resolve(name + ".db"), server.port(), b -> b.clientId(name).subscribe(null, scope));
  }

  private static Value str(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static Struct start() {
    ListValue.Builder items = ListValue.newBuilder();
    List.of("a", "b", "c", "d", "e").forEach(s -> items.addValues(str(s)));
    Struct props = Struct.newBuilder().putFields("color", str("red")).putFields("size", str("M"))
        .putFields("owner", str("x")).build();
    return Struct.newBuilder()
        .putFields("items", Value.newBuilder().setListValue(items).build())
        .putFields("props", Value.newBuilder().setStructValue(props).build())
        .build();
  }

  private static Struct serverDocument(String scope, String id) {
    String json = server.sql().fetchOne("select data::text from entity where scope = ? and entity_id = ?", scope, id)
        .get(0, String.class);
    Struct.Builder out = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, out);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(json, e);
    }
    return out.build();
  }

  private static Struct data(Device device, EntityKey key) {
    return device.client.get(key).orElseThrow().data();
  }

  private static List<String> items(Struct document) {
    return document.getFieldsOrThrow("items").getListValue().getValuesList().stream()
        .map(Value::getStringValue).collect(Collectors.toList());
  }

  private static Struct props(Struct document) {
    return document.getFieldsOrThrow("props").getStructValue();
  }

  /** A's offline edits, one delta each: [a b c d e] becomes [d a A1 b c], color blue, size unset. */
  private static void editA(Device a, EntityKey key) {
    a.client.edit(key, List.of(Edits.arrayInsert(ITEMS, 1, List.of(str("A1")))));   // a A1 b c d e
    a.client.edit(key, List.of(Edits.arrayMove(ITEMS, 4, 0)));                         // d a A1 b c e
    a.client.edit(key, List.of(Edits.objectSet(PROPS, "color", str("blue"))));
    a.client.edit(key, List.of(Edits.arrayRemove(ITEMS, 5, 1)));                       // d a A1 b c
    a.client.edit(key, List.of(Edits.objectUnset(PROPS, "size")));
  }

  /** B's offline edits, one delta each: [a b c d e] becomes [c B1 d e a], shape round, owner and size unset. */
  private static void editB(Device b, EntityKey key) {
    b.client.edit(key, List.of(Edits.arrayInsert(ITEMS, 3, List.of(str("B1")))));   // a b c B1 d e
    b.client.edit(key, List.of(Edits.arrayRemove(ITEMS, 1, 1)));                       // a c B1 d e
    b.client.edit(key, List.of(Edits.arrayMove(ITEMS, 0, 4)));                         // c B1 d e a
    b.client.edit(key, List.of(Edits.objectSet(PROPS, "shape", str("round")),
        Edits.objectUnset(PROPS, "owner")));
    // A unsets "size" too: transformed past A's unset, this delta has nothing left and is dropped, never sent empty.
    b.client.edit(key, List.of(Edits.objectUnset(PROPS, "size")));
    b.client.edit(key, List.of(Edits.objectSet(PROPS, "color", str("green"))));
  }

  @Test
  void twoOfflineEditorsOfAListAndItsSettingsConvergeKeepingEveryNonConflictingEdit() throws Exception {
    String scope = "structure-offline";
    EntityKey key = new EntityKey(scope, "checklist", "c");
    Device a = device("editor-a", scope);
    Device b = device("editor-b", scope);
    a.client.start();
    b.client.start();
    a.client.create("checklist", scope, "c", start());
    a.awaitSynced();
    await("b has the checklist", () -> b.client.get(key).map(e -> !e.pending() && e.serverVersion() == 1)
        .orElse(false));
    a.kill();
    b.kill();

    try (Device a2 = device("editor-a", scope); Device b2 = device("editor-b", scope)) {
      editA(a2, key);
      editB(b2, key);
      assertThat(items(data(a2, key))).containsExactly("d", "a", "A1", "b", "c");
      assertThat(items(data(b2, key))).containsExactly("c", "B1", "d", "e", "a");

      a2.client.start();
      a2.awaitSynced();
      b2.client.start();
      b2.awaitSynced();
      await("both show the server's document", () -> {
        Struct expected = serverDocument(scope, "c");
        return a2.client.pendingCount() == 0 && data(a2, key).equals(expected) && data(b2, key).equals(expected);
      });

      Struct result = serverDocument(scope, "c");
      // Every insert kept, every remove done, each moved element where its mover put it relative to the others.
      assertThat(items(result)).as("%s", result).containsExactly("d", "A1", "c", "B1", "a");
      assertThat(props(result).getFieldsMap()).as("%s", result)
          .containsOnlyKeys("color", "shape")
          .containsEntry("shape", str("round"));
      // Both wrote "color": one write wins (the same on every copy), never a mix or a loss of the key.
      assertThat(props(result).getFieldsOrThrow("color").getStringValue()).isIn("blue", "green");
      assertThat(a2.rejected).isEmpty();
      assertThat(b2.rejected).isEmpty();
      // B's first delta met A's changes and was merged by the server; the SDK rebased the rest, no whole-document
      // update fell back to another policy.
      assertThat(b2.conflicts).isNotEmpty().allSatisfy(r -> assertThat(r.getResolution().getPolicy().name())
          .isEqualTo("CONFLICT_POLICY_OPERATIONAL_TRANSFORM"));
    }
  }

  @Test
  void twoEditorsReconnectingTogetherConverge() throws Exception {
    String scope = "structure-together";
    EntityKey key = new EntityKey(scope, "checklist", "c");
    Device a = device("together-a", scope);
    Device b = device("together-b", scope);
    a.client.start();
    b.client.start();
    a.client.create("checklist", scope, "c", start());
    a.awaitSynced();
    await("b has the checklist", () -> b.client.get(key).map(e -> !e.pending() && e.serverVersion() == 1)
        .orElse(false));
    a.kill();
    b.kill();

    try (Device a2 = device("together-a", scope); Device b2 = device("together-b", scope)) {
      editA(a2, key);
      editB(b2, key);
      a2.client.start();
      b2.client.start();
      await("both show the server's document", () -> {
        Struct expected = serverDocument(scope, "c");
        return a2.client.pendingCount() == 0 && b2.client.pendingCount() == 0
            && data(a2, key).equals(expected) && data(b2, key).equals(expected);
      });
      Struct result = serverDocument(scope, "c");
      assertThat(items(result)).as("%s", result).containsExactlyInAnyOrder("d", "A1", "c", "B1", "a");
      assertThat(items(result)).as("%s", result).startsWith("d").endsWith("a");
      assertThat(props(result).getFieldsMap()).as("%s", result).containsOnlyKeys("color", "shape");
      assertThat(a2.rejected).isEmpty();
      assertThat(b2.rejected).isEmpty();
    }
  }
}

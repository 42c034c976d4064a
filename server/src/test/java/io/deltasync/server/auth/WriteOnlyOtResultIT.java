package io.deltasync.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.server.testing.Credentials;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.deltasync.v1.Change;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.EditOperation;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncServiceGrpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Review of ScopedPush.readableOnly: a write-only credential's push result keeps ConflictResolution.explanation,
 * which names the other writers of the scope ("merged with the edits of 1 change since row_version 1 (by
 * apikey:owner~owner-app)", or "the change at row_version 2 by client '...' was not made with edits"): who wrote
 * the scope it may not read, which readableOnly says it removes.
 */
class WriteOnlyOtResultIT {
  private static final String OWNER = "owner-key-0123456789abcdef0123456789abcdef";
  private static final String INGEST = "ingest-key-0123456789abcdef0123456789abcdef";
  private static final Path KEYS;

  static {
    try {
      KEYS = Files.createTempDirectory("review-keys").resolve("keys.json");
      Files.writeString(KEYS, """
          {"keys": [
            {"name": "owner", "sha256": "%s", "roles": ["writer"], "read": ["inbox"], "write": ["inbox"]},
            {"name": "ingest", "sha256": "%s", "roles": ["writer"], "write": ["inbox"]}
          ]}
          """.formatted(ApiKeys.sha256(OWNER), ApiKeys.sha256(INGEST)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension(config -> config
      .withAuth(AuthSettings.from(Map.of("DELTASYNC_AUTH", "token", "DELTASYNC_JWT_HS256_SECRET", Credentials.SECRET,
          "DELTASYNC_API_KEYS_FILE", KEYS.toString())))
      .withConflicts(ConflictPolicy.CONFLICT_POLICY_OPERATIONAL_TRANSFORM, config.conflicts()));

  private static DeltaResult push(String key, String clientId, Delta delta) {
    return SyncServiceGrpc.newBlockingStub(Credentials.apiKey(server.channel(), key))
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .push(PushRequest.newBuilder().setClientId(clientId).addDeltas(delta).build()).getResults(0);
  }

  static Struct json(String json) {
    Struct.Builder document = Struct.newBuilder();
    try {
      JsonFormat.parser().merge(json, document);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return document.build();
  }

  static List<EditOperation> edits(String jsonArray) {
    Change.Builder holder = Change.newBuilder();
    try {
      JsonFormat.parser().merge("{\"edits\": " + jsonArray + "}", holder);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return holder.getEditsList();
  }

  private static Delta delta(String id, Operation op, long base) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope("inbox").setOperation(op).setBaseRowVersion(base).build();
  }

  private static List<EditOperation> insertTitle(String text) {
    return edits("[{\"path\": [{\"key\": \"title\"}], \"text\": {\"components\": "
        + "[{\"insert\": \"" + text + "\"}]}}]");
  }

  @Test
  void aMergedResultDoesNotNameTheScopesOtherWriters() {
    assertThat(push(OWNER, "owner-secret-phone", delta("m", Operation.OPERATION_CREATE, 0).toBuilder()
        .setData(json("{\"title\": \"x\"}")).build()).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(push(OWNER, "owner-secret-phone", delta("m", Operation.OPERATION_UPDATE, 1).toBuilder()
        .addAllEdits(insertTitle("o")).build()).getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    DeltaResult ingest = push(INGEST, "ingest-job", delta("m", Operation.OPERATION_UPDATE, 1).toBuilder()
        .addAllEdits(insertTitle("i")).build());
    assertThat(ingest.toString()).as("result to the write-only key: %s", ingest)
        .doesNotContain("owner-secret-phone");
  }

  @Test
  void aFallbackResultDoesNotNameTheScopesOtherWriters() {
    assertThat(push(OWNER, "owner-secret-tablet", delta("f", Operation.OPERATION_CREATE, 0).toBuilder()
        .setData(json("{\"title\": \"x\"}")).build()).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(push(OWNER, "owner-secret-tablet", delta("f", Operation.OPERATION_UPDATE, 1).toBuilder()
        .setData(json("{\"title\": \"y\"}")).build()).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    DeltaResult ingest = push(INGEST, "ingest-job", delta("f", Operation.OPERATION_UPDATE, 1).toBuilder()
        .addAllEdits(insertTitle("i")).build());
    assertThat(ingest.toString()).as("result to the write-only key: %s", ingest)
        .doesNotContain("owner-secret-tablet");
  }

  /**
   * An edit refused against the current document quotes it: "runs past the end of the text (at code point 0 of
   * 15)", "key 'x' not found", "array length N". A write-only key thereby reads the lengths, keys and shape of
   * documents in a scope it may not read (one probe per field; ScopedPush.readableOnly keeps result.error as is).
   */
  @Test
  void aRefusedEditDoesNotDescribeTheDocument() {
    assertThat(push(OWNER, "owner-app", delta("len", Operation.OPERATION_CREATE, 0).toBuilder()
        .setData(json("{\"title\": \"owner-only-text\"}")).build()).getStatus())
        .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    DeltaResult ingest = push(INGEST, "ingest-job", delta("len", Operation.OPERATION_UPDATE, 1).toBuilder()
        .addAllEdits(edits("[{\"path\": [{\"key\": \"title\"}], \"text\": {\"components\": "
            + "[{\"delete\": 1000}]}}]")).build());
    assertThat(ingest.toString()).as("result to the write-only key: %s", ingest).doesNotContain("of 15");
  }
}

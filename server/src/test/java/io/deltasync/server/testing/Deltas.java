package io.deltasync.server.testing;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import java.util.UUID;

/** Builds deltas for tests. */
public final class Deltas {
  private Deltas() {}

  /** A document with one string field. */
  public static Struct doc(String key, String value) {
    return Struct.newBuilder().putFields(key, Value.newBuilder().setStringValue(value).build()).build();
  }

  /** A CREATE of note/{id} in scope "team-a". */
  public static Delta create(String id, Struct data) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope("team-a").setOperation(Operation.OPERATION_CREATE).setData(data).build();
  }

  /** An UPDATE of note/{id} based on {@code base}. */
  public static Delta update(String id, long base, Struct data) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope("team-a").setOperation(Operation.OPERATION_UPDATE).setBaseRowVersion(base).setData(data).build();
  }

  /** A DELETE of note/{id} based on {@code base}. */
  public static Delta delete(String id, long base) {
    return Delta.newBuilder().setDeltaId(UUID.randomUUID().toString()).setEntityType("note").setEntityId(id)
        .setScope("team-a").setOperation(Operation.OPERATION_DELETE).setBaseRowVersion(base).build();
  }
}

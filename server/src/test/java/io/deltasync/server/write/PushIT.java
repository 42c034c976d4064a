package io.deltasync.server.write;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.delete;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.Entity;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncStatus;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Push on the real server and database: every row of the decision table in {@link WriteService}. */
class PushIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server =
      DeltaSyncServerExtension.withDefaultPolicy(io.deltasync.v1.ConflictPolicy.CONFLICT_POLICY_SERVER_WINS);

  private List<DeltaResult> push(Delta... deltas) {
    return server.sync().push(PushRequest.newBuilder().setClientId("phone-1").addAllDeltas(List.of(deltas)).build())
        .getResultsList();
  }

  private DeltaResult pushOne(Delta delta) {
    return push(delta).get(0);
  }

  static String reason(DeltaResult result) {
    try {
      for (var detail : result.getError().getDetailsList()) {
        if (detail.is(ErrorInfo.class)) {
          ErrorInfo info = detail.unpack(ErrorInfo.class);
          assertThat(info.getDomain()).isEqualTo("deltasync.dev");
          return info.getReason();
        }
      }
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
    return "";
  }

  @Test
  void createThenUpdateThenDeleteEachBumpTheVersionAndTheEtag() {
    DeltaResult created = pushOne(create("n1", doc("title", "draft")));
    assertThat(created.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    Entity v1 = created.getEntity();
    assertThat(v1.getRowVersion()).isEqualTo(1);
    assertThat(v1.getData()).isEqualTo(doc("title", "draft"));
    assertThat(v1.getLastModifiedBy()).isEqualTo("phone-1");
    assertThat(v1.getSyncStatus()).isEqualTo(SyncStatus.SYNC_STATUS_SYNCED);
    assertThat(v1.getEtag()).isNotEmpty();
    assertThat(v1.getIsDeleted()).isFalse();

    Entity v2 = pushOne(update("n1", 1, doc("title", "final"))).getEntity();
    assertThat(v2.getRowVersion()).isEqualTo(2);
    assertThat(v2.getData()).isEqualTo(doc("title", "final"));
    assertThat(v2.getEtag()).isNotEqualTo(v1.getEtag());
    assertThat(v2.getCreatedAt()).isEqualTo(v1.getCreatedAt());
    assertThat(com.google.protobuf.util.Timestamps.compare(v2.getLastModifiedAt(), v1.getLastModifiedAt()))
        .isPositive();

    DeltaResult deleted = pushOne(delete("n1", 2));
    assertThat(deleted.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(deleted.getEntity().getIsDeleted()).isTrue();
    assertThat(deleted.getEntity().getRowVersion()).isEqualTo(3);
    assertThat(deleted.getEntity().getEtag()).isNotIn(v1.getEtag(), v2.getEtag());
  }

  @Test
  void updateAgainstAnEtagWorksLikeAgainstAVersion() {
    Entity v1 = pushOne(create("etag-1", doc("a", "1"))).getEntity();
    Delta byEtag = update("etag-1", 0, doc("a", "2")).toBuilder().setBaseEtag(v1.getEtag()).build();
    assertThat(pushOne(byEtag).getEntity().getRowVersion()).isEqualTo(2);

    Delta staleEtag = update("etag-1", 0, doc("a", "3")).toBuilder().setBaseEtag(v1.getEtag()).build();
    DeltaResult conflict = pushOne(staleEtag);
    assertThat(conflict.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(reason(conflict)).isEqualTo("VERSION_CONFLICT");
  }

  @Test
  void staleBaseVersionIsAConflictCarryingTheServersVersionAndData() {
    pushOne(create("n2", doc("title", "one")));
    pushOne(update("n2", 1, doc("title", "two")));

    DeltaResult stale = pushOne(update("n2", 1, doc("title", "offline edit")));

    assertThat(stale.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(stale.getError().getCode()).isEqualTo(Code.ABORTED_VALUE);
    assertThat(reason(stale)).isEqualTo("VERSION_CONFLICT");
    assertThat(stale.getEntity().getRowVersion()).isEqualTo(2);
    assertThat(stale.getEntity().getData()).isEqualTo(doc("title", "two"));
    assertThat(server.sql().fetchValue("select data->>'title' from entity where entity_id = 'n2'"))
        .isEqualTo("two");
  }

  @Test
  void secondCreateOfTheSameIdIsAConflictNotACrash() {
    pushOne(create("n3", doc("v", "first")));
    DeltaResult again = pushOne(create("n3", doc("v", "second")));
    assertThat(again.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(reason(again)).isEqualTo("ENTITY_EXISTS");
    assertThat(again.getEntity().getData()).isEqualTo(doc("v", "first"));
  }

  @Test
  void updateOrDeleteOfAnAbsentEntityIsNotFound() {
    DeltaResult update = pushOne(update("ghost", 1, doc("v", "x")));
    assertThat(update.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_REJECTED);
    assertThat(update.getError().getCode()).isEqualTo(Code.NOT_FOUND_VALUE);
    assertThat(reason(update)).isEqualTo("ENTITY_NOT_FOUND");
    assertThat(reason(pushOne(delete("ghost", 1)))).isEqualTo("ENTITY_NOT_FOUND");
  }

  @Test
  void aTombstoneIsNeverResurrectedByAccident() {
    pushOne(create("n4", doc("v", "alive")));
    pushOne(delete("n4", 1));

    DeltaResult update = pushOne(update("n4", 1, doc("v", "stale offline edit")));
    assertThat(update.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(reason(update)).isEqualTo("ENTITY_DELETED");
    assertThat(update.getEntity().getIsDeleted()).isTrue();

    DeltaResult blindCreate = pushOne(create("n4", doc("v", "again")));
    assertThat(blindCreate.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_CONFLICT);
    assertThat(reason(blindCreate)).isEqualTo("ENTITY_DELETED");
    assertThat(server.sql().fetchValue("select is_deleted from entity where entity_id = 'n4'")).isEqualTo(true);
  }

  @Test
  void createWithTheTombstonesVersionCreatesItAgainDeliberately() {
    pushOne(create("n5", doc("v", "1")));
    pushOne(delete("n5", 1));

    Delta recreate = create("n5", doc("v", "reborn")).toBuilder().setBaseRowVersion(2).build();
    DeltaResult result = pushOne(recreate);

    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(result.getEntity().getRowVersion()).isEqualTo(3);
    assertThat(result.getEntity().getIsDeleted()).isFalse();
    assertThat(result.getEntity().getData()).isEqualTo(doc("v", "reborn"));
    assertThat(server.sql().fetchValue(
        "select operation from change_log where entity_id = 'n5' order by change_id desc limit 1"))
        .isEqualTo("create");
  }

  @Test
  void deletingADeletedEntityChangesNothing() {
    pushOne(create("n6", doc("v", "1")));
    pushOne(delete("n6", 1));
    long logged = server.sql().fetchCount(server.sql().selectFrom("change_log").where("entity_id = 'n6'"));

    DeltaResult again = pushOne(delete("n6", 1));

    assertThat(again.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(again.getEntity().getRowVersion()).isEqualTo(2);
    assertThat(server.sql().fetchCount(server.sql().selectFrom("change_log").where("entity_id = 'n6'")))
        .isEqualTo(logged);
  }

  @Test
  void everyAppliedWriteAppendsExactlyOneChangeInTheSameTransaction() {
    pushOne(create("n7", doc("v", "1")));
    pushOne(update("n7", 1, doc("v", "2")));
    pushOne(update("n7", 1, doc("v", "conflicting")));  // not applied: no change
    pushOne(delete("n7", 2));

    var log = server.sql().fetch(
        "select operation, row_version, delta_id is not null as has_delta, client_id from change_log "
            + "where entity_id = 'n7' order by tx_id, change_id");
    assertThat(log.getValues("operation", String.class)).containsExactly("create", "update", "delete");
    assertThat(log.getValues("row_version", Long.class)).containsExactly(1L, 2L, 3L);
    assertThat(log.getValues("has_delta", Boolean.class)).containsOnly(true);
    assertThat(log.getValues("client_id", String.class)).containsOnly("phone-1");
  }

  @Test
  void sameIdInAnotherScopeIsAnotherEntity() {
    pushOne(create("shared-id", doc("team", "a")));
    Delta otherScope = create("shared-id", doc("team", "b")).toBuilder().setScope("team-b").build();
    DeltaResult result = pushOne(otherScope);
    assertThat(result.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(result.getEntity().getRowVersion()).isEqualTo(1);
  }

  @Test
  void deltasOfOneBatchApplyInOrder() {
    List<DeltaResult> results = push(create("n8", doc("v", "1")), update("n8", 1, doc("v", "2")),
        update("n8", 2, doc("v", "3")));
    assertThat(results).extracting(DeltaResult::getStatus).containsOnly(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(results.get(2).getEntity().getRowVersion()).isEqualTo(3);
  }

  @Test
  void plainSqlWritersGetVersionsEtagsAndChangeLogEntriesToo() {
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) "
        + "values ('team-a', 'note', 'from-sql', '{\"v\": \"sql\"}')");
    server.sql().execute("update entity set data = '{\"v\": \"sql2\"}', row_version = 99 "
        + "where entity_id = 'from-sql'");

    var row = server.sql().fetchOne("select row_version, etag, last_modified_by from entity "
        + "where entity_id = 'from-sql'");
    assertThat(row.get("row_version", Long.class)).as("the trigger owns row_version").isEqualTo(2);
    assertThat(row.get("etag", String.class)).startsWith("2-");
    assertThat(row.get("last_modified_by", String.class)).isEqualTo("postgres");

    DeltaResult update = pushOne(update("from-sql", 2, doc("v", "from phone")));
    assertThat(update.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(server.sql().fetch("select operation from change_log where entity_id = 'from-sql' "
        + "order by tx_id, change_id").getValues(0, String.class)).containsExactly("create", "update", "update");
    assertThat(update.getEntity().getRowVersion()).isEqualTo(3);
  }

  @Test
  void versionsKeepGrowingWhenAnotherServiceDeletesARowAndInsertsItAgain() {
    pushOne(create("reborn-by-sql", doc("v", "1")));
    pushOne(update("reborn-by-sql", 1, doc("v", "2")));
    server.sql().execute("delete from entity where entity_id = 'reborn-by-sql'");
    server.sql().execute("insert into entity (scope, entity_type, entity_id, data) "
        + "values ('team-a', 'note', 'reborn-by-sql', '{\"v\": \"3\"}')");

    var log = server.sql().fetch("select operation, row_version from change_log where entity_id = 'reborn-by-sql' "
        + "order by tx_id, change_id");
    assertThat(log.getValues("operation", String.class)).containsExactly("create", "update", "delete", "create");
    // Clients keep a change only if its version is higher than theirs: the new life must not start again at 1.
    assertThat(log.getValues("row_version", Long.class)).containsExactly(1L, 2L, 3L, 4L);
    DeltaResult update = pushOne(update("reborn-by-sql", 4, doc("v", "5")));
    assertThat(update.getStatus()).isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
    assertThat(update.getEntity().getRowVersion()).isEqualTo(5);
  }
}

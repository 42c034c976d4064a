package io.deltasync.server.changefeed;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static io.deltasync.server.testing.Deltas.update;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.deltasync.v1.Change;
import io.deltasync.v1.Delta;
import io.deltasync.v1.Operation;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Pull on the real server: commit order, pages, filters, and no gap when transactions commit out of order. */
class PullIT {
  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  private void push(Delta... deltas) {
    server.sync().push(PushRequest.newBuilder().setClientId("phone-1").addAllDeltas(List.of(deltas)).build());
  }

  private PullResponse pull(String cursor, int pageSize, String scope) {
    return server.sync().pull(PullRequest.newBuilder().setCursor(cursor).setPageSize(pageSize).addScopes(scope)
        .build());
  }

  record Pulled(List<Change> changes, String next) {}

  /** Pulls every page after {@code cursor} in one scope; returns the changes and the last next_cursor. */
  private Pulled pullAll(String cursor, int pageSize, String scope) {
    List<Change> all = new ArrayList<>();
    PullResponse page;
    do {
      page = pull(cursor, pageSize, scope);
      all.addAll(page.getChangesList());
      cursor = page.getNextCursor();
    } while (page.getHasMore());
    return new Pulled(all, cursor);
  }

  private static Delta inScope(Delta delta, String scope) {
    return delta.toBuilder().setScope(scope).build();
  }

  @Test
  void pagesThroughChangesInCommitOrderWithoutGapsOrDuplicates() {
    for (int i = 0; i < 23; i++) {
      push(inScope(create("p" + i, doc("i", Integer.toString(i))), "paging"));
    }
    push(inScope(update("p0", 1, doc("i", "0 again")), "paging"));

    List<Change> pages = new ArrayList<>();
    String cursor = "";
    int requests = 0;
    PullResponse page;
    do {
      page = pull(cursor, 5, "paging");
      requests++;
      assertThat(page.getChangesCount()).isLessThanOrEqualTo(5);
      pages.addAll(page.getChangesList());
      if (page.getHasMore()) {
        assertThat(page.getNextCursor()).isEqualTo(page.getChanges(page.getChangesCount() - 1).getCursor());
      }
      cursor = page.getNextCursor();
    } while (page.getHasMore());

    assertThat(requests).isEqualTo(5);
    assertThat(pages).hasSize(24);
    assertThat(pages.subList(0, 23)).extracting(c -> c.getEntity().getEntityId())
        .containsExactlyElementsOf(java.util.stream.IntStream.range(0, 23).mapToObj(i -> "p" + i).toList());
    Change last = pages.get(23);
    assertThat(last.getOperation()).isEqualTo(Operation.OPERATION_UPDATE);
    assertThat(last.getEntity().getRowVersion()).isEqualTo(2);
    assertThat(last.getClientId()).isEqualTo("phone-1");
    assertThat(last.getDeltaId()).isNotEmpty();
    PullResponse empty = pull(cursor, 5, "paging");
    assertThat(empty.getChangesList()).isEmpty();
    assertThat(Cursor.decode(empty.getNextCursor()).orElseThrow())
        .isGreaterThanOrEqualTo(Cursor.decode(cursor).orElseThrow());
  }

  @Test
  void pageSizeIsCappedBySyncBatchSize() {
    for (int i = 0; i < 60; i++) {
      push(inScope(create("cap" + i, doc("i", "x")), "capped"));
    }
    assertThat(pull("", 1000, "capped").getChangesCount()).isEqualTo(50);
    assertThat(pull("", 0, "capped").getChangesCount()).isEqualTo(50);
    assertThat(pull("", 0, "capped").getHasMore()).isTrue();
  }

  @Test
  void filtersByEntityTypeAndScope() {
    push(inScope(create("t1", doc("v", "1")), "filter-a"),
        inScope(create("t2", doc("v", "1")), "filter-b"),
        inScope(create("t3", doc("v", "1")).toBuilder().setEntityType("task").build(), "filter-a"));

    PullResponse notesInA = server.sync().pull(PullRequest.newBuilder().addScopes("filter-a")
        .addEntityTypes("note").build());
    assertThat(notesInA.getChangesList()).extracting(c -> c.getEntity().getEntityId()).containsExactly("t1");
    PullResponse bothScopes = server.sync().pull(PullRequest.newBuilder().addScopes("filter-a")
        .addScopes("filter-b").build());
    assertThat(bothScopes.getChangesList()).extracting(c -> c.getEntity().getEntityId())
        .containsExactly("t1", "t2", "t3");
  }

  @Test
  void aTransactionCommittingAfterALaterOneIsNotSkipped() throws Exception {
    String scope = "interleaved";
    push(inScope(create("before", doc("v", "0")), scope));
    // Resume from next_cursor, not from the last change: next_cursor is pushed as far as the watermark allows,
    // which is exactly where a gap would open if the watermark were wrong.
    String cursor = pullAll("", 10, scope).next();

    try (Connection a = server.database().dataSource().getConnection();
        Connection b = server.database().dataSource().getConnection()) {
      a.setAutoCommit(false);
      b.setAutoCommit(false);
      try (Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
        // A takes its transaction id (and its change-log row id) first ...
        sa.execute("insert into entity (scope, entity_type, entity_id) values ('" + scope + "', 'note', 'slow-a')");
        // ... B writes after it and commits first.
        sb.execute("insert into entity (scope, entity_type, entity_id) values ('" + scope + "', 'note', 'fast-b')");
        b.commit();

        Pulled whileAIsOpen = pullAll(cursor, 10, scope);
        // B is visible but not yet safe to hand out: delivering it now would move the cursor past A.
        assertThat(whileAIsOpen.changes()).isEmpty();
        cursor = whileAIsOpen.next();

        a.commit();
      }
    }

    List<Change> afterA = pullAll(cursor, 10, scope).changes();
    assertThat(afterA).extracting(c -> c.getEntity().getEntityId()).containsExactly("slow-a", "fast-b");
  }

  @Test
  void aRolledBackTransactionLeavesNoGapAndReleasesTheWatermark() throws Exception {
    String scope = "rollback";
    try (Connection a = server.database().dataSource().getConnection()) {
      a.setAutoCommit(false);
      try (Statement sa = a.createStatement()) {
        sa.execute("insert into entity (scope, entity_type, entity_id) values ('" + scope + "', 'note', 'never')");
        push(inScope(create("kept", doc("v", "1")), scope));
        assertThat(pullAll("", 10, scope).changes()).isEmpty();
        a.rollback();
      }
    }
    assertThat(pullAll("", 10, scope).changes()).extracting(c -> c.getEntity().getEntityId()).containsExactly("kept");
  }

  @Test
  void aCursorThatIsNotOursIsInvalidArgument() throws InvalidProtocolBufferException {
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> server.sync().pull(PullRequest.newBuilder().setCursor("garbage").build()));
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    assertThat(status.getCode()).isEqualTo(Code.INVALID_ARGUMENT_VALUE);
    assertThat(status.getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).findFirst().orElseThrow()
        .unpack(ErrorInfo.class).getReason()).isEqualTo("INVALID_CURSOR");
    assertThat(status.getMessage()).startsWith("cursor: not a cursor issued by this server");
  }

  @Test
  void aCursorFromAnotherEpochMustResync() throws InvalidProtocolBufferException {
    String foreign = new Cursor(12345, 10, 10).encode();
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> server.sync().pull(PullRequest.newBuilder().setCursor(foreign).build()));
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    assertThat(status.getCode()).isEqualTo(Code.FAILED_PRECONDITION_VALUE);
    assertThat(status.getDetailsList().stream().filter(d -> d.is(ErrorInfo.class)).findFirst().orElseThrow()
        .unpack(ErrorInfo.class).getReason()).isEqualTo("RESYNC_REQUIRED");
  }

  @Test
  void badFiltersAndPageSizeAreInvalidArgument() {
    assertThatThrownBy(() -> server.sync().pull(PullRequest.newBuilder().setPageSize(-1).addScopes("a b")
        .addEntityTypes("9x").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(StatusProto.fromThrowable(e)
            .getMessage()).isEqualTo("page_size: -1 (expected: >= 0); entity_types[0]: '9x' is not an entity "
            + "type; scopes[0]: 'a b' is not a scope"));
  }
}

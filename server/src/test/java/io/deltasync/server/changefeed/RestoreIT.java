package io.deltasync.server.changefeed;

import static io.deltasync.server.testing.Deltas.create;
import static io.deltasync.server.testing.Deltas.doc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.ErrorInfo;
import io.deltasync.server.DeltaSyncServer;
import io.deltasync.server.testing.TestServerConfig;
import io.deltasync.server.database.EmbeddedDatabase;
import io.deltasync.server.testing.StreamClient;
import io.deltasync.v1.DeltaStatus;
import io.deltasync.v1.PullRequest;
import io.deltasync.v1.PullResponse;
import io.deltasync.v1.PushRequest;
import io.deltasync.v1.SyncResponse;
import io.deltasync.v1.SyncServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The database is restored from a copy of its data directory taken earlier: same cluster, same timeline, but
 * transaction ids handed out again. A client holding a cursor from the lost history must be told to resync, never
 * resume past changes written after the restore.
 */
class RestoreIT {
  @TempDir
  Path temp;

  /** A server over an embedded PostgreSQL this test starts, stops and restores itself. */
  private final class Node implements AutoCloseable {
    final EmbeddedDatabase postgres;
    final DeltaSyncServer server;
    final ManagedChannel channel;

    Node(Path dataDirectory, int port) throws IOException {
      postgres = EmbeddedDatabase.start(dataDirectory, port);
      // No warm-up: its rolled-back transactions consume transaction ids, and this test counts them.
      server = DeltaSyncServer.start(TestServerConfig.from(Map.of("DELTASYNC_WARMUP", "false")).withPort(0)
          .withDatabase(postgres.jdbcUrl(), postgres.user(), postgres.password()));
      channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
    }

    SyncServiceGrpc.SyncServiceBlockingStub sync() {
      return SyncServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    /** Pushes each create in its own call, so each is its own transaction (and consumes a transaction id). */
    void pushEach(String prefix, int count) {
      for (int i = 0; i < count; i++) {
        assertThat(sync().push(PushRequest.newBuilder().setClientId("writer")
            .addDeltas(create(prefix + "-" + i, doc("n", Integer.toString(i)))).build()).getResults(0).getStatus())
            .isEqualTo(DeltaStatus.DELTA_STATUS_APPLIED);
      }
    }

    String pullToEnd() {
      String cursor = "";
      PullResponse page;
      do {
        page = sync().pull(PullRequest.newBuilder().setCursor(cursor).build());
        cursor = page.getNextCursor();
      } while (page.getHasMore());
      return cursor;
    }

    long watermark() {
      return server.database().dsl().resultQuery("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
          .fetchSingle().get(0, Long.class);
    }

    @Override
    public void close() throws IOException {
      channel.shutdownNow();
      server.close();
      postgres.close();
    }
  }

  /**
   * After the restore, the server writes either a few changes (the acknowledged cursor is then ahead of the
   * database's watermark) or many more than were lost (the cursor's position exists again but names other
   * changes: only the history fingerprint tells).
   */
  @ParameterizedTest(name = "{0} writes after the restore")
  @ValueSource(ints = {1, 40})
  void aCursorFromTheLostHistoryIsAnsweredWithResync(int writesAfterRestore) throws Exception {
    Path data = temp.resolve("data");
    int port;
    try (Node node = new Node(data, 0)) {
      port = node.postgres.port();
      node.pushEach("kept", 3);
    }
    Path copy = temp.resolve("copy");
    copyTree(data, copy);

    String acked;
    try (Node node = new Node(data, port)) {
      node.pushEach("lost", 10);
      acked = node.pullToEnd();
    }

    deleteTree(data);
    copyTree(copy, data);

    try (Node node = new Node(data, port)) {
      node.pushEach("after", writesAfterRestore);
      if (writesAfterRestore > 10) {
        assertThat(Cursor.decode(acked).orElseThrow().txId())
            .as("the old cursor's position exists again in the restored history").isLessThan(node.watermark());
      }
      assertThatThrownBy(() -> node.sync().pull(PullRequest.newBuilder().setCursor(acked)
          .build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(reason(e)).isEqualTo("RESYNC_REQUIRED");
          });
      // A client that resyncs gets everything the restored database holds, the writes after the restore included.
      PullResponse everything = node.sync().pull(PullRequest.newBuilder().setPageSize(500)
          .build());
      assertThat(everything.getChangesList()).extracting(c -> c.getEntity().getEntityId())
          .contains("kept-0", "after-0").noneMatch(id -> id.startsWith("lost-"));
    }
  }

  /**
   * The database is restored under a running server: its live feed sees the watermark fall below what it
   * delivered, starts a new epoch and ends every stream; the client reconnects with its cursor and is told to resync.
   */
  @Test
  void aRestoreUnderARunningServerEndsStreamsAndOldCursorsResync() throws Exception {
    Path data = temp.resolve("data");
    int port;
    try (Node node = new Node(data, 0)) {
      port = node.postgres.port();
      node.pushEach("kept", 3);
    }
    Path copy = temp.resolve("copy");
    copyTree(data, copy);
    try (Node node = new Node(data, port)) {
      try (StreamClient client = new StreamClient(node.channel)) {
        client.hello("watcher", "");
        client.awaitLive();
        node.pushEach("lost", 10);
        client.awaitChanges(10);
        String cursor = client.cursor();

        node.postgres.close();
        deleteTree(data);
        copyTree(copy, data);
        EmbeddedDatabase restored = EmbeddedDatabase.start(data, port);
        try {
          Status end = client.awaitEnd();
          assertThat(end.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
          assertThat(end.getDescription()).contains("restored or failed over");

          try (StreamClient again = new StreamClient(node.channel)) {
            again.hello("watcher", cursor);
            SyncResponse resync = again.await(SyncResponse::hasResyncRequired, "resync_required");
            assertThat(resync.getResyncRequired().getReason()).contains("resync required");
          }
        } finally {
          restored.close();
        }
      }
    }
  }

  private static String reason(StatusRuntimeException e) {
    com.google.rpc.Status status = StatusProto.fromThrowable(e);
    return status.getDetailsList().stream().filter(any -> any.is(ErrorInfo.class)).map(any -> {
      try {
        return any.unpack(ErrorInfo.class).getReason();
      } catch (com.google.protobuf.InvalidProtocolBufferException x) {
        throw new AssertionError(x);
      }
    }).findFirst().orElse("");
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      // Pre-order: each directory is created, with its 0700 permissions (PostgreSQL insists), before what it holds.
      for (Path source : (Iterable<Path>) files::iterator) {
        Files.copy(source, to.resolve(from.relativize(source).toString()), StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> files = Files.walk(root)) {
      for (Path path : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    }
  }
}

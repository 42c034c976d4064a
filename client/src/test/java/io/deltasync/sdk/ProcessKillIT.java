package io.deltasync.sdk;

import static io.deltasync.sdk.Device.await;
import static io.deltasync.sdk.Device.doc;
import static org.assertj.core.api.Assertions.assertThat;

import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.server.testing.DeltaSyncServerExtension;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real app process, offline, makes local writes and is killed with SIGKILL (no close, no shutdown hook). Started
 * again on the same SQLite file with the server reachable, it pushes every pending write exactly once.
 */
class ProcessKillIT {
  private static final int WRITES = 25;

  @RegisterExtension
  static final DeltaSyncServerExtension server = new DeltaSyncServerExtension();

  @TempDir
  Path dir;

  /** The app: offline (its server is a closed port), writes, says so, then waits to be killed. */
  public static void main(String[] args) throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    ManagedChannel nowhere = ManagedChannelBuilder.forAddress("127.0.0.1", closedPort).usePlaintext().build();
    SyncClient client = SyncClient.builder().channel(nowhere).store(SqliteLocalStore.open(Path.of(args[0])))
        .clientId("field-tablet").subscribe("inspection", "killed").build();
    client.start();
    for (int i = 0; i < WRITES; i++) {
      client.create("inspection", "killed", "gate-" + i, doc("n", Integer.toString(i)));
    }
    System.out.println("written " + client.pendingCount());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }

  @Test
  void pendingWritesOfAKilledProcessArePushedOnceAfterRestart() throws Exception {
    Path file = dir.resolve("tablet.db");
    Process app = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), ProcessKillIT.class.getName(), file.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(app.getInputStream(),
        StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null && !line.startsWith("written ")) {
        // the app's other output, if any
      }
      assertThat(line).as("the app wrote its entities before it was killed").isEqualTo("written " + WRITES);
    } finally {
      app.destroyForcibly();  // SIGKILL
      app.waitFor(30, TimeUnit.SECONDS);
    }

    try (Device restarted = new Device(file, server.port(), b -> b.clientId("field-tablet")
        .subscribe("inspection", "killed"))) {
      assertThat(restarted.client.pendingCount()).as("the outbox survived the kill").isEqualTo(WRITES);
      restarted.client.start();
      restarted.awaitSynced();
      await("all on the server", () -> server.sql().fetchCount(server.sql().selectFrom("entity")
          .where("scope = 'killed'")) == WRITES);
    }
    assertThat(server.sql().fetchOne("select count(*) from change_log where scope = 'killed'").get(0, Long.class))
        .as("each write pushed exactly once").isEqualTo((long) WRITES);
  }
}

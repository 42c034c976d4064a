package io.deltasync.examples.inspections;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.deltasync.sdk.EntityKey;
import io.deltasync.sdk.LocalEntity;
import io.deltasync.sdk.SyncClient;
import io.deltasync.sdk.SyncListener;
import io.deltasync.sdk.SyncState;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * A list of gate inspections kept in a local SQLite file and synced with a deltasync server. {@code add} and
 * {@code set} work offline (the local copy changes at once, the write waits in the outbox); {@code sync} connects,
 * pushes the outbox, downloads what others changed, and returns once the copy is up to date.
 */
@Command(name = "inspections", mixinStandardHelpOptions = true,
    description = "Gate inspections, offline first, synced with a deltasync server.")
public final class InspectionsApp {
  static final String TYPE = "inspection";

  @Option(names = "--db", defaultValue = "inspections.db", description = "The local SQLite file (default: ${DEFAULT-VALUE}).")
  Path db;

  @Option(names = "--server", defaultValue = "127.0.0.1:7420", description = "host:port of the server (default: ${DEFAULT-VALUE}).")
  String server;

  @Option(names = "--site", defaultValue = "site-1", description = "The site, i.e. the scope synced (default: ${DEFAULT-VALUE}).")
  String site;

  @Spec
  CommandLine.Model.CommandSpec spec;

  /** Runs the app. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new InspectionsApp()).execute(args));
  }

  private PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** An open local copy; connected only when asked. */
  private final class Session implements AutoCloseable {
    final ManagedChannel channel = ManagedChannelBuilder.forTarget(server).usePlaintext()
        .keepAliveTime(30, TimeUnit.SECONDS).build();
    final SqliteLocalStore store = SqliteLocalStore.open(db);
    final SyncClient client;

    Session(SyncListener listener) {
      client = SyncClient.builder().channel(channel).store(store).subscribe(TYPE, site).listener(listener).build();
    }

    @Override
    public void close() throws InterruptedException {
      client.close();
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      store.close();
    }
  }

  private static Struct inspection(String gate, String status) {
    return Struct.newBuilder()
        .putFields("gate", Value.newBuilder().setStringValue(gate).build())
        .putFields("status", Value.newBuilder().setStringValue(status).build())
        .build();
  }

  private static String text(LocalEntity entity, String field) {
    Value value = entity.data().getFieldsOrDefault(field, Value.getDefaultInstance());
    return value.getStringValue();
  }

  @Command(name = "add", description = "Adds an open inspection of a gate (offline: saved locally, pending).")
  int add(@Parameters(paramLabel = "GATE") String gate) throws InterruptedException {
    try (Session session = new Session(new SyncListener() { })) {
      String id = UUID.randomUUID().toString().substring(0, 8);
      session.client.create(TYPE, site, id, inspection(gate, "open"));
      out().println("added " + id + " " + gate + " (pending)");
      return 0;
    }
  }

  @Command(name = "set", description = "Sets the status of an inspection (offline: saved locally, pending).")
  int set(@Parameters(paramLabel = "ID") String id, @Parameters(paramLabel = "STATUS") String status)
      throws InterruptedException {
    try (Session session = new Session(new SyncListener() { })) {
      EntityKey key = new EntityKey(site, TYPE, id);
      LocalEntity current = session.client.get(key).filter(e -> !e.deleted()).orElse(null);
      if (current == null) {
        spec.commandLine().getErr().println("no inspection " + id);
        return 1;
      }
      session.client.update(key, inspection(text(current, "gate"), status));
      out().println(id + " " + status + " (pending)");
      return 0;
    }
  }

  @Command(name = "list", description = "Lists the inspections of the local copy.")
  int list() throws InterruptedException {
    try (Session session = new Session(new SyncListener() { })) {
      List<LocalEntity> all = session.client.query(TYPE, site);
      all.stream().sorted(Comparator.comparing((LocalEntity e) -> text(e, "gate")).thenComparing(e -> e.key().entityId()))
          .forEach(e -> out().println(e.key().entityId() + "  " + text(e, "gate") + "  " + text(e, "status")
              + (e.pending() ? "  (pending)" : "")));
      return 0;
    }
  }

  @Command(name = "sync", description = "Connects, pushes pending writes, downloads changes; returns when up to date.")
  int sync(@Option(names = "--timeout", defaultValue = "PT60S", description = "Give up after (ISO-8601, default: ${DEFAULT-VALUE}).")
      Duration timeout) throws InterruptedException {
    SyncListener listener = new SyncListener() {
      @Override
      public void onConflict(Delta delta, DeltaResult result) {
        out().println("conflict on " + delta.getEntityId() + ": " + result.getResolution().getOutcome()
            + " by " + result.getResolution().getPolicy());
      }

      @Override
      public void onRejected(Delta delta, DeltaResult result) {
        out().println("rejected " + delta.getEntityId() + ": " + result.getError().getMessage());
      }
    };
    try (Session session = new Session(listener)) {
      session.client.start();
      Instant giveUp = Instant.now().plus(timeout);
      while (!(session.client.state().phase() == SyncState.Phase.LIVE && session.client.pendingCount() == 0)) {
        if (Instant.now().isAfter(giveUp)) {
          spec.commandLine().getErr().println("not synced: " + session.client.state());
          return 1;
        }
        Thread.sleep(50);
      }
      out().println("synced: " + session.client.query(TYPE, site).size() + " inspections, 0 pending");
      return 0;
    }
  }
}

package io.deltasync.sdk;

import com.google.protobuf.Struct;
import io.deltasync.client.RetryPolicy;
import io.deltasync.sdk.sqlite.SqliteLocalStore;
import io.deltasync.v1.ConflictPolicy;
import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import io.deltasync.v1.ResolutionChoice;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The example of client/README.md, "Use it", compiled with the tests: {@link ReadmeExampleTest} checks that the
 * README shows exactly the code between the markers. Never run (it needs a server at its address).
 */
final class ReadmeExample {
  private ReadmeExample() {}

  /** What the example's app provides. */
  interface Ui {
    void refresh(LocalEntity entity);

    void showResolution(Delta delta, DeltaResult result);

    void showError(Delta delta, com.google.rpc.Status error);

    void showSyncState(SyncState state);
  }

  /** The app's sign-in. */
  interface Auth {
    String currentAccessToken();
  }

  @SuppressWarnings("unused")
  static void example(Ui ui, Auth auth, Struct data, Struct newData, String conflictId) throws Exception {
    // README:begin
    ManagedChannel channel = ManagedChannelBuilder.forTarget("sync.example.com:443")
        .keepAliveTime(30, TimeUnit.SECONDS)                  // Netty on the JVM, OkHttp on Android: the app's choice
        .defaultServiceConfig(Channels.retryServiceConfig(RetryPolicy.defaults())).enableRetry()  // unary retries
        .build();
    SqliteLocalStore store = SqliteLocalStore.open(Path.of("app.db"));
    SyncClient client = SyncClient.builder()
        .channel(channel)
        .store(store)
        .subscribe("inspection", "site-1")                    // entity type (null: all) and scopes (none: all)
        .tokenProvider(() -> auth.currentAccessToken())       // optional: authorization: Bearer, refreshed on the stream
        .listener(new SyncListener() {
          @Override public void onEntityChanged(LocalEntity e) { ui.refresh(e); }
          @Override public void onConflict(Delta d, DeltaResult r) { ui.showResolution(d, r); }
          @Override public void onRejected(Delta d, DeltaResult r) { ui.showError(d, r.getError()); }
          @Override public void onStateChanged(SyncState s) { ui.showSyncState(s); }
        })
        .build();
    client.start();

    LocalEntity inspection = client.create("inspection", "site-1", data);      // local copy changes at once
    client.update(inspection.key(), newData);                                   // queued behind the create
    client.update(inspection.key(), newData, ConflictPolicy.CONFLICT_POLICY_MANUAL);
    client.delete(inspection.key());
    List<LocalEntity> open = client.query("inspection", "site-1");              // what the user sees
    client.verify("site-1").get();                                              // checksum against the server
    client.resolveConflict(conflictId, ResolutionChoice.RESOLUTION_CHOICE_TAKE_CLIENT, null, 0);
    client.close(); channel.shutdown(); store.close();                          // the app owns channel and store
    // README:end
  }
}

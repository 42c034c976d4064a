package io.deltasync.sdk;

import io.deltasync.v1.Delta;
import io.deltasync.v1.DeltaResult;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/** The app's listeners; one that throws is logged and never stops the sync loop. */
final class Listeners implements SyncListener {
  private static final Logger LOG = Logger.getLogger(Listeners.class.getName());

  private final List<SyncListener> listeners = new CopyOnWriteArrayList<>();

  void add(SyncListener listener) {
    listeners.add(listener);
  }

  void remove(SyncListener listener) {
    listeners.remove(listener);
  }

  private void each(Consumer<SyncListener> call) {
    for (SyncListener listener : listeners) {
      try {
        call.accept(listener);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "a SyncListener threw", e);
      }
    }
  }

  @Override
  public void onEntityChanged(LocalEntity entity) {
    each(l -> l.onEntityChanged(entity));
  }

  @Override
  public void onConflict(Delta delta, DeltaResult result) {
    each(l -> l.onConflict(delta, result));
  }

  @Override
  public void onRejected(Delta delta, DeltaResult result) {
    each(l -> l.onRejected(delta, result));
  }

  @Override
  public void onStateChanged(SyncState state) {
    each(l -> l.onStateChanged(state));
  }

  @Override
  public void onResync(String reason) {
    each(l -> l.onResync(reason));
  }

  @Override
  public void onStreamError(com.google.rpc.Status status) {
    each(l -> l.onStreamError(status));
  }
}

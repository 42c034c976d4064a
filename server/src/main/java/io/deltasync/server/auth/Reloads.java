package io.deltasync.server.auth;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reloads the API key files on SIGHUP (besides the change check on use). */
final class Reloads {
  private static final Logger log = LoggerFactory.getLogger(Reloads.class);
  private static final Set<ApiKeys> FILES = ConcurrentHashMap.newKeySet();
  private static volatile boolean installed;

  private Reloads() {}

  static synchronized void onHangUp(ApiKeys keys) {
    FILES.add(keys);
    if (installed) {
      return;
    }
    installed = true;
    try {
      // sun.misc.Signal (module jdk.unsupported) is the JDK's only way to handle SIGHUP; there is no library for it.
      sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> FILES.forEach(ApiKeys::reload));
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      log.info("SIGHUP cannot be handled here ({}); API key files are still reloaded when they change",
          e.getMessage());
    }
  }
}

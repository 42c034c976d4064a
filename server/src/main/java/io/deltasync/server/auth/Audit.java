package io.deltasync.server.auth;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Security events as structured log lines on the {@code deltasync.audit} logger (SLF4J key-value pairs): who (the
 * principal's label, never a credential), which client, which scope, what. Never a token, a key or entity data.
 */
public final class Audit {
  private static final Logger log = LoggerFactory.getLogger("deltasync.audit");

  private Audit() {}

  /** A request refused for lack of a permission ({@code what} = the permission) or a scope (read / write). */
  public static void denied(Principal principal, String clientId, String what, String scope) {
    log.atInfo().setMessage("permission denied")
        .addKeyValue("event", "permission_denied")
        .addKeyValue("principal", principal.label())
        .addKeyValue("client_id", clientId)
        .addKeyValue("needed", what)
        .addKeyValue("scope", scope)
        .log();
  }

  /** A call refused before it reached a service: no credential, or one that is not acceptable. */
  public static void unauthenticated(String method, String reason) {
    log.atInfo().setMessage("unauthenticated call")
        .addKeyValue("event", "unauthenticated")
        .addKeyValue("method", method)
        .addKeyValue("reason", reason)
        .log();
  }

  /** A conflict resolved by hand. */
  public static void conflictResolved(Principal principal, String conflictId, String scope, String choice) {
    log.atInfo().setMessage("conflict resolved")
        .addKeyValue("event", "conflict_resolved")
        .addKeyValue("principal", principal.label())
        .addKeyValue("conflict_id", conflictId)
        .addKeyValue("scope", scope)
        .addKeyValue("choice", choice)
        .log();
  }

  /** An operation (clean-up, for example) run through AdminService. */
  public static void operation(Principal principal, String method) {
    log.atInfo().setMessage("admin operation")
        .addKeyValue("event", "admin_operation")
        .addKeyValue("principal", principal.label())
        .addKeyValue("method", method)
        .log();
  }
}

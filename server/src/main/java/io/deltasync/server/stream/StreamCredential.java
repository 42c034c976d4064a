package io.deltasync.server.stream;

import io.deltasync.server.auth.Access;
import io.deltasync.server.auth.Permission;
import io.deltasync.server.auth.Principal;
import io.deltasync.server.store.ChangeFilter;
import io.deltasync.v1.SyncHello;
import io.deltasync.v1.Subscription;

/**
 * The credential a Sync stream runs under, and the checks it makes: the scopes a hello names, the stream's filter
 * narrowed to what the credential may read, pushes, checksums.
 */
final class StreamCredential {
  private volatile Principal principal;

  StreamCredential(Principal principal) {
    this.principal = principal;
  }

  /** The principal now. */
  Principal principal() {
    return principal;
  }

  /**
   * Refuses a hello naming a scope the credential may not read (PERMISSION_DENIED naming the field) and returns the
   * client id as the server stores it for this principal.
   */
  String checkHello(SyncHello hello) {
    Principal now = principal;
    for (int i = 0; i < hello.getSubscriptionsCount(); i++) {
      Subscription subscription = hello.getSubscriptions(i);
      for (int j = 0; j < subscription.getScopesCount(); j++) {
        Access.requireReadable(now, "hello.subscriptions[" + i + "].scopes[" + j + "]", subscription.getScopes(j));
      }
    }
    return now.clientKey(hello.getClientId());
  }

  /** The filter restricted to the scopes the credential may read. */
  ChangeFilter narrow(ChangeFilter filter) {
    return filter.restrictedTo(principal.readable());
  }

  /** The principal, if it may push (else PERMISSION_DENIED naming sync:write). */
  Principal mayPush() {
    Principal now = principal;
    Access.require(now, Permission.SYNC_WRITE);
    return now;
  }

  /** Refuses a scope the credential may not read. */
  void checkReadable(String field, String scope) {
    Access.requireReadable(principal, field, scope);
  }
}

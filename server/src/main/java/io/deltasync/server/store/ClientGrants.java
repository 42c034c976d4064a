package io.deltasync.server.store;

import java.util.Optional;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/**
 * The digest of the scopes each client last synced under (client_sync_status.grants_digest, V18): a stream that
 * resumes under other grants must resync, since its cursor moved past changes it was not allowed to see then.
 */
public final class ClientGrants {
  private final DSLContext dsl;

  /** Over the server's pool. */
  public ClientGrants(DSLContext dsl) {
    this.dsl = dsl;
  }

  /** The digest recorded for the client (as stored: bound to its principal), if any. */
  public Optional<String> digest(String clientKey) {
    return dsl.resultQuery("SELECT grants_digest FROM client_sync_status WHERE client_id = {0}", DSL.val(clientKey))
        .fetchOptional().map(r -> r.get(0, String.class));
  }

  /** Records the digest the client syncs under from now on (committed before its stream delivers under it). */
  public void record(String clientKey, String digest) {
    dsl.execute("""
        INSERT INTO client_sync_status (client_id, grants_digest) VALUES ({0}, {1})
        ON CONFLICT (client_id) DO UPDATE SET grants_digest = excluded.grants_digest
        WHERE client_sync_status.grants_digest IS DISTINCT FROM excluded.grants_digest
        """, DSL.val(clientKey), DSL.val(digest));
  }
}

/**
 * The offline-first client SDK: a local copy of synced entities with an outbox of pending deltas behind
 * {@link io.deltasync.sdk.LocalStore}, kept in sync with a deltasync server over one Sync stream by
 * {@link io.deltasync.sdk.SyncClient}.
 */
package io.deltasync.sdk;

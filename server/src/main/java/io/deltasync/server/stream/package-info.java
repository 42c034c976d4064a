/** The Sync stream: one {@link io.deltasync.server.stream.SyncSession} per client stream, and their registry. */
package io.deltasync.server.stream;

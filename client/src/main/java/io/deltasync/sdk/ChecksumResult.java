package io.deltasync.sdk;

/**
 * The outcome of {@link SyncClient#verify(String)}: the server's checksum of a scope compared with the local copy's.
 * On a mismatch the SDK has already started downloading the scope's state again (a resync keeping the outbox).
 *
 * @param scope the scope
 * @param matches whether the local copy holds exactly the server's entities and versions
 * @param serverEntities how many live entities the server counted
 * @param localEntities how many the local copy holds
 */
public record ChecksumResult(String scope, boolean matches, long serverEntities, long localEntities) {}

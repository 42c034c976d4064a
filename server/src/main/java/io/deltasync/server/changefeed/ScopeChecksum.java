package io.deltasync.server.changefeed;

import io.deltasync.server.store.ChangeFilter;
import io.deltasync.server.store.Position;
import io.deltasync.server.store.SyncStore;
import io.deltasync.v1.SyncChecksum;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The completeness proof of one scope at one position (docs/protocol.md §8): a digest over every live entity of
 * the scope that the stream delivers (its subscribed types), which a client computes the same way over its copy.
 */
public final class ScopeChecksum {
  private ScopeChecksum() {}

  /** The checksum of {@code scope} as delivered through {@code delivered}, at {@code at}. */
  static SyncChecksum at(SyncStore store, ChangeFeed feed, String scope, ChangeFilter delivered, Position at) {
    List<SyncStore.EntityVersion> versions = store.liveVersionsAt(scope, delivered, at);
    return SyncChecksum.newBuilder().setScope(scope).setCursor(feed.encodeAt(at))
        .setEntityCount(versions.size()).setDigest(digest(versions)).build();
  }

  /** SHA-256 over "entity_type US entity_id US row_version LF" per live entity, sorted by type then id. */
  public static String digest(List<SyncStore.EntityVersion> versions) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (SyncStore.EntityVersion version : versions) {
        sha.update((version.entityType() + '\u001f' + version.entityId() + '\u001f' + version.rowVersion() + '\n')
            .getBytes(StandardCharsets.UTF_8));
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }
}

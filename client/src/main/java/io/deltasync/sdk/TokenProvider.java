package io.deltasync.sdk;

/**
 * Supplies the credential the SDK sends as {@code authorization: Bearer <token>} when it opens a stream, and again
 * on the open stream when the server announces that the current one expires ({@code SyncTokenExpiring}).
 */
@FunctionalInterface
public interface TokenProvider {
  /**
   * A currently valid token (without the "Bearer " prefix). Called on the SDK's sync thread: may block briefly (a
   * refresh call), should not take longer than the server's warning before expiry.
   */
  String token() throws Exception;
}

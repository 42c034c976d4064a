/** The change feed: reading the change log in commit order from a {@link io.deltasync.server.changefeed.Cursor}. */
package io.deltasync.server.changefeed;

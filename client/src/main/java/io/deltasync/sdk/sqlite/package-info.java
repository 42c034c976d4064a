/** The {@link io.deltasync.sdk.LocalStore} on an embedded SQLite database (sqlite-jdbc), in WAL mode. */
package io.deltasync.sdk.sqlite;

/** Where the data lives: the embedded or an external PostgreSQL, its migrations, and the connection pool. */
package io.deltasync.server.database;

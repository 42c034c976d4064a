/** Build-time tool: generates the jOOQ classes from the Flyway migrations on a throw-away PostgreSQL. */
package io.deltasync.db.codegen;

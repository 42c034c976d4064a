/** Admission control in front of the database pool: per-entity write admission and the database-down fast path. */
package io.deltasync.server.admission;

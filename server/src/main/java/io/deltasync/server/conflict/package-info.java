/** Conflict policies: which one applies to a delta, and what it decides when a compare-and-set misses. */
package io.deltasync.server.conflict;

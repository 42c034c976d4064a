/** The write path: validation, idempotency, compare-and-set, one transaction per delta. */
package io.deltasync.server.write;

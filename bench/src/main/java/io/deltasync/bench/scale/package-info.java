/** The scale benchmark: fan-out, catch-up, initial sync, memory per stream, reconnect storm and write cost. */
package io.deltasync.bench.scale;

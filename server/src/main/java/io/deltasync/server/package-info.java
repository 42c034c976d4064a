/** Start-up, configuration and lifecycle of the deltasync server, and the {@code ServerBuilder<?>} seam. */
package io.deltasync.server;

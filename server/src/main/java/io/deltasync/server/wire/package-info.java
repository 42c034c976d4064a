/** What fits in one gRPC message: the one size budget every sender of pages and results uses. */
package io.deltasync.server.wire;

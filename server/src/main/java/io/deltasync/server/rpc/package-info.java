/** Thin gRPC adapters: request-level validation and the one mapping from exceptions to status. */
package io.deltasync.server.rpc;

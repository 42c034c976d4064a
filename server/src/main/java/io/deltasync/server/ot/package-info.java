/** Operational transform of JSON document edits: apply, compose and transform as pure functions, no I/O, no gRPC. */
package io.deltasync.server.ot;

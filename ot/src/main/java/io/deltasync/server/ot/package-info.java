/**
 * Operational transform of JSON document edits: apply, compose and transform as pure functions, no I/O, no gRPC.
 *
 * <p>This package lives in the {@code deltasync-ot} module, shared by the server and the client SDK, and compiles
 * for Java 17 bytecode so the SDK can run it on Android (instanceof chains where the server once used Java 21
 * pattern switches). It keeps its old name {@code io.deltasync.server.ot} on purpose: the move changed no import
 * in the server, and both sides run literally the same transform.
 */
package io.deltasync.server.ot;

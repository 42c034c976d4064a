/** The start-up warm-up: the hot paths run before health answers SERVING, invisibly to clients. */
package io.deltasync.server.warmup;

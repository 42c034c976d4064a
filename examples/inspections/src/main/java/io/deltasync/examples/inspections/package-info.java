/** Example: a command-line app that keeps a list of gate inspections in sync, offline first, with the client SDK. */
package io.deltasync.examples.inspections;

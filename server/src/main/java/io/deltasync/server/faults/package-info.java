/** Test-only fault injection, off unless an environment variable or system property names a fault. */
package io.deltasync.server.faults;

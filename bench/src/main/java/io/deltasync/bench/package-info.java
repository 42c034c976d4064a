/** JMH benchmarks of the server's pure parts, run on demand (see run-ot-bench.sh), never during the build. */
package io.deltasync.bench;

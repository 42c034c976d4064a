#!/usr/bin/env bash
# Runs the end-to-end push and fan-out load benchmark (io.deltasync.bench.PushBenchmark, a plain main, not JMH):
# one embedded PostgreSQL + deltasync server in this process on 127.0.0.1, a temporary data directory deleted at
# the end. It prints deltasync's write cost as a ratio to plain JDBC INSERTs measured in the same run, and the
# fan-out cost as the ratio of end-to-end delivery time with many subscribers to that with one. See
# docs/performance.md for what the numbers mean.
#
#   bench/run-push-bench.sh                          # defaults: N=5000, B=50, C=4, S=1,50, M=2000; ~1-2 minutes
#   bench/run-push-bench.sh -n 20000 -c 8 -s 1,10,100   # any options; --help lists them
#
# MVN_FLAGS defaults to -o (offline); set MVN_FLAGS= on the first run so Maven can fetch what is missing.
# Run as a normal user or as root with user namespaces allowed (the embedded PostgreSQL; see README).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
read -r -a mvn_flags <<< "${MVN_FLAGS--o}"

# The benchmark links against the installed server jar; tests are not needed (nor compiled) for that.
"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$root/pom.xml" install -Dmaven.test.skip=true -pl server -am
"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$here/pom.xml" package
"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$here/pom.xml" exec:exec \
  -Dexec.args="-cp %classpath io.deltasync.bench.PushBenchmark $*"

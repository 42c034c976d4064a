#!/usr/bin/env bash
# Runs the write-throughput benchmark (io.deltasync.bench.WriteBenchmark, a plain main): one durable embedded
# PostgreSQL in a temporary directory, deltasync servers on 127.0.0.1 port 0, plain JDBC as the same-run baseline.
# See docs/performance.md for what it measures and what the numbers mean.
#
#   bench/run-write-bench.sh                                   # 8 clients, batches of 50; a few minutes
#   bench/run-write-bench.sh --sweep-batches 1,10,200,500 --sweep-clients 1,2,32
#   bench/run-write-bench.sh --help
#
# MVN_FLAGS defaults to -o (offline); set MVN_FLAGS= on the first run so Maven can fetch what is missing.
# Builds in the reactor and runs from its target folders: nothing is installed into the local repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
read -r -a mvn_flags <<< "${MVN_FLAGS--o}"

"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$root/pom.xml" -pl bench -am package dependency:build-classpath \
  -Dmaven.test.skip=true -Dmdep.outputFile=target/classpath.txt
# shellcheck source=../.mvn/jdk.sh
. "$root/.mvn/jdk.sh"
deltasync_find_jdk
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
  -cp "$here/target/classes:$(cat "$here/target/classpath.txt")" io.deltasync.bench.WriteBenchmark "$@"

#!/usr/bin/env bash
# The scale benchmark (io.deltasync.bench.scale.ScaleBenchmark; docs/performance.md, "At scale"): starts an embedded
# PostgreSQL (or uses --database-url), a deltasync server in its own JVM on 127.0.0.1, and runs the load clients in
# this JVM: fan-out latency, reconnect storm, stalled consumer, memory per idle stream, catch-up, initial sync and
# write cost, each against a baseline measured in the same run. Writes bench/results/<UTC date>/results.json,
# results.md and plots.png. 4.5-9.5 minutes on 2 cores at the default sizes, depending on what else runs.
#
#   bench/run.sh                                  # the full run
#   bench/run.sh --smoke                          # tiny sizes, under a minute
#   bench/run.sh --subscribers 100,1000,5000      # any sizes; --help lists every flag
#
# MVN_FLAGS defaults to -o (offline); set MVN_FLAGS= on the first run so Maven can fetch what is missing.
# 1,000+ connections need file descriptors: the client and the server each hold one per connection (ulimit -n).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
read -r -a mvn_flags <<< "${MVN_FLAGS--o}"

"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$root/pom.xml" -pl bench -am package dependency:build-classpath \
  -Dmaven.test.skip=true -Dmdep.outputFile=target/classpath.txt
# shellcheck source=../.mvn/jdk.sh
. "$root/.mvn/jdk.sh"
deltasync_find_jdk
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 16384 ]; then
  ulimit -n 16384 2>/dev/null || echo "bench/run.sh: ulimit -n is $(ulimit -n); large stream counts may fail" >&2
fi
cd "$root"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx4g -Djava.awt.headless=true \
  -cp "$here/target/classes:$(cat "$here/target/classpath.txt")" io.deltasync.bench.scale.ScaleBenchmark "$@"

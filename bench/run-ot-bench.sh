#!/usr/bin/env bash
# Runs the operational-transform JMH benchmark and prints time(100)/time(10) and time(1000)/time(100) from one run
# (about 10 means transform cost grows linearly with the number of edits).
#
#   bench/run-ot-bench.sh                 # full run, about 1.5 minutes
#   bench/run-ot-bench.sh -wi 1 -i 2      # any JMH options: here a quicker, rougher run
#
# MVN_FLAGS defaults to -o (offline); set MVN_FLAGS= on the first run so Maven can fetch JMH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
read -r -a mvn_flags <<< "${MVN_FLAGS--o}"

# The benchmark links against the installed server jar; tests are not needed (nor compiled) for that.
"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$root/pom.xml" install -Dmaven.test.skip=true -pl server -am
"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$here/pom.xml" package
"$root/mvnw" -q -B "${mvn_flags[@]}" -f "$here/pom.xml" exec:exec \
  -Dexec.args="-cp %classpath io.deltasync.bench.OtBenchmarkReport $*"

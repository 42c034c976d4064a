# Sourced by ./mvnw and ./deltasync: finds a JDK >= 21 the way a laptop would have one and exports JAVA_HOME.
# Order: $JAVA_HOME if it qualifies, then `java` on PATH, then the usual install locations.
# Why not just require JAVA_HOME: the default `java` on many machines is still 17, with a newer JDK installed beside it.

deltasync_required_java=21

deltasync_java_major() { # $1 = path to a java binary; prints its feature version, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

deltasync_find_jdk() {
  local candidate major
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  # Linux distribution and vendor packages, SDKMAN, asdf, macOS.
  for candidate in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* \
                   "$HOME"/.asdf/installs/java/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$candidate" ] && candidates+=("$candidate")
  done
  for candidate in "${candidates[@]}"; do
    [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(deltasync_java_major "$candidate/bin/java")
    if [ -n "$major" ] && [ "$major" -ge "$deltasync_required_java" ]; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "deltasync needs a JDK $deltasync_required_java or newer (found none in JAVA_HOME, PATH or /usr/lib/jvm)." >&2
  echo "Install one, for example: apt-get install openjdk-21-jdk (Debian/Ubuntu), brew install openjdk@21 (macOS)," >&2
  echo "or any Temurin 21+ build; then set JAVA_HOME to it if it is not in a usual location." >&2
  return 1
}

# What the JVM services' scripts (cassandra.sh, kafka.sh) share; sourced,
# not run. Each script sets NAME (for messages) before sourcing it. The
# helpers not tied to Java (the start lock, the wait, stop and kill) are in
# common.sh, sourced here.

# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The Java 17 binary: both services run on it (Cassandra 5.0 does not start
# on 24+, the newest installed).
java17() {
  local candidate
  for candidate in "${JAVA17_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk; do
    if [[ -n "$candidate" && -x "$candidate/bin/java" ]]; then
      echo "$candidate/bin/java"
      return
    fi
  done
  if java -version 2>&1 | grep -q 'version "17'; then
    command -v java
    return
  fi
  echo "$NAME: no Java 17 found (set JAVA17_HOME)" >&2
  exit 2
}

# fetch_jars_once WHAT DEPENDENCIES: the runtime jars of DEPENDENCIES (a
# Maven <dependency> list) and of theirs, into $LIB, once; WHAT names them in
# the message. Instances sharing $LIB may start at once: one fetches, the
# others wait.
fetch_jars_once() {
  local what="$1" dependencies="$2"
  [[ -f "$LIB/.complete" ]] && return
  mkdir -p "$HOME_DIR" "$(dirname "$LIB")"
  exec 9>"$LIB.lock"
  flock 9
  [[ -f "$LIB/.complete" ]] && return
  cat > "$HOME_DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>temper.services</groupId>
  <artifactId>${NAME%.sh}-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$dependencies
  </dependencies>
</project>
POM
  echo "$NAME: fetching $what and its dependencies (once)" >&2
  mvn -q -f "$HOME_DIR/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB"
  touch "$LIB/.complete"
}

# What the JVM services' scripts (cassandra.sh, kafka.sh) share; sourced,
# not run. Each script sets NAME (for messages) before sourcing it.

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

# one_start_at_a_time: holds a lock (file descriptor 8) until the script
# ends, so that of several starts at once (tests running in parallel) one
# launches the JVM and the others find it answering. The JVM must not
# inherit the descriptor (launch it with `8>&-`), or it holds the lock.
one_start_at_a_time() {
  mkdir -p "$HOME_DIR"
  exec 8>"$HOME_DIR/start.lock"
  flock 8
}

# wait_until_ready READY EXITED: waits up to $START_TIMEOUT seconds for the
# command READY to succeed; if the JVM in $PID_FILE dies first, EXITED says
# why (to stderr) and the script fails. WAITED: the seconds it took.
wait_until_ready() {
  local ready="$1" exited="$2"
  WAITED=0
  until $ready; do
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      $exited >&2
      exit 1
    fi
    if (( WAITED >= START_TIMEOUT )); then
      echo "$NAME: not ready on 127.0.0.1:$PORT within ${START_TIMEOUT}s; see $LOG" >&2
      exit 1
    fi
    sleep 1
    WAITED=$((WAITED + 1))
  done
}

# Whether something accepts connections on 127.0.0.1:$1.
port_answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_gone PID TENTHS PORT...: waits up to TENTHS tenths of a second for
# the process to be gone with its ports closed. Gone, or a zombie its parent
# has yet to reap; but the main thread of a JVM turns zombie while its other
# threads still exit and hold the sockets open, hence the ports.
wait_gone() {
  local pid="$1" tenths="$2" port
  shift 2
  for _ in $(seq 1 "$tenths"); do
    if ! kill -0 "$pid" 2>/dev/null || [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == Z* ]]; then
      local open=0
      for port in "$@"; do
        port_answers "$port" && open=1
      done
      [[ $open == 0 ]] && return 0
    fi
    sleep 0.1
  done
  return 1
}

# The pid the file holds; fails, saying so, when the service is not running.
running_pid() {
  [[ -f "$1" ]] || { echo "$NAME: not running" >&2; return 1; }
  cat "$1"
}

# stop_service PID_FILE PORT...: SIGTERM, up to a minute to finish, then SIGKILL.
stop_service() {
  local pid_file="$1" pid
  shift
  pid="$(running_pid "$pid_file")" || return 0
  if kill "$pid" 2>/dev/null && ! wait_gone "$pid" 600 "$@"; then
    kill -9 "$pid" 2>/dev/null || true
    wait_gone "$pid" 100 "$@" || true
  fi
  rm -f "$pid_file"
  echo "$NAME: stopped"
}

# kill_service PID_FILE PORT...: SIGKILL, as a crash would, and wait until
# the ports are free, so a start right after cannot mistake the dying
# process for a running one.
kill_service() {
  local pid_file="$1" pid
  shift
  pid="$(running_pid "$pid_file")" || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait_gone "$pid" 100 "$@" || true
  rm -f "$pid_file"
  echo "$NAME: killed with SIGKILL"
}

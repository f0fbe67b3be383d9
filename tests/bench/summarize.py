"""Prints the medians of a compare.sh results folder as a markdown table."""

import json
import statistics
import sys
from pathlib import Path

SERVERS = ("temper", "temporal")


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


def metric(folder, file, pick):
    return {server: median([pick(r) for r in load(folder, server, file)]) for server in SERVERS}


def fmt(value, unit):
    if value is None:
        return "n/a"
    return f"{value:,.1f}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def main():
    folder = Path(sys.argv[1])
    runs = len(list(folder.glob("run-*")))
    rows = []

    def add(label, values, unit, higher_is_better):
        temper, temporal = values["temper"], values["temporal"]
        ratio = f"{temper / temporal:.2f}x" if temper is not None and temporal else "n/a"
        better = "higher is better" if higher_is_better else "lower is better"
        rows.append(f"| {label} | {fmt(temper, unit)} | {fmt(temporal, unit)} | {ratio} ({better}) |")

    scenarios = sorted({p.stem for p in folder.glob("run-*/*/*.json")} - {"ready", "process"})
    order = ["hello-activity", "activities-10", "timer", "signals", "long-history", "start-only"]
    for scenario in [s for s in order if s in scenarios]:
        add(f"{scenario}: workflows/s", metric(folder, f"{scenario}.json", lambda r: r["workflows_per_second"]), "", True)
        if scenario != "start-only":
            add(f"{scenario}: history events/s", metric(folder, f"{scenario}.json", lambda r: r["history_events_per_second"]), "", True)
        for q in ("p50", "p95", "p99", "max"):
            add(f"{scenario}: latency {q}", metric(folder, f"{scenario}.json", lambda r, q=q: r["latency_ms"][q]), " ms", False)
        if scenario == "long-history":
            add("long-history: full history fetch p50", metric(folder, f"{scenario}.json", lambda r: (r.get("history_fetch_ms") or {}).get("p50")), " ms", False)
        errors = metric(folder, f"{scenario}.json", lambda r: sum(r["errors"].values()))
        add(f"{scenario}: errors", errors, "", False)
    add("start-up to first GetSystemInfo", metric(folder, "process.json", lambda r: r["ready_ms"]), " ms", False)
    add("idle resident memory", metric(folder, "process.json", lambda r: r["idle_rss_kb"] / 1024), " MiB", False)
    add("peak resident memory under load", metric(folder, "process.json", lambda r: r["peak_rss_kb"] / 1024), " MiB", False)

    print(f"Medians of {runs} alternating runs; Temper / Temporal ratios.\n")
    print("| metric | Temper | Temporal dev server | Temper / Temporal |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

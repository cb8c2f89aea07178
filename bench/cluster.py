#!/usr/bin/env python3
"""`pqlsync features` on the local engine vs a local Ballista cluster (one scheduler, two
executors, all on this machine); driven by bench/cluster.sh.

Same binary (built with the `ballista` feature), same SQL, same files. Both sides' outputs are
checked equal first (DuckDB compares the two Parquet files), then each is timed REPS times,
alternately, as whole processes: `features --full-refresh` (every incremental rollup rebuilt
from all history: the most work) and `features` as a daily run (the rollups restored to what
yesterday's run left before each timed run). The cluster runs on the same two cores as the
local engine, so the ratio is Ballista's overhead (planning, task scheduling, shuffles through
Arrow Flight and disk), not a speed-up; README explains how it scales with executors.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the dataset generator and config of the main benchmark)


def start_cluster(binary, work, executors):
    logs = os.path.join(work, "cluster-logs")
    os.makedirs(logs, exist_ok=True)
    scheduler = subprocess.Popen(
        [binary, "cluster", "scheduler", "--bind", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(logs, "scheduler.log"), "w"), text=True,
    )
    line = scheduler.stdout.readline().strip()
    url = line.rsplit(" ", 1)[-1]
    if not url.startswith("df://"):
        sys.exit(f"scheduler said {line!r}")
    procs = [scheduler]
    for i in range(executors):
        procs.append(subprocess.Popen(
            [binary, "cluster", "executor", "--scheduler", url[len("df://"):], "--bind",
             "127.0.0.1", "--work-dir", os.path.join(work, f"executor-{i}")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(logs, f"executor-{i}.log"), "w"),
        ))
    time.sleep(2)
    return url, procs


def same(python, a, b):
    q = (
        "select count(*) from ((select * from read_parquet('{a}') except all "
        "select * from read_parquet('{b}')) union all (select * from read_parquet('{b}') "
        "except all select * from read_parquet('{a}')))"
    ).format(a=a, b=b)
    out = subprocess.run([python, "-c", f"import duckdb; print(duckdb.sql({q!r}).fetchall()[0][0])"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    return out == "0"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--scale", choices=["full", "smoke"], default="full")
    p.add_argument("--results", required=True)
    args = p.parse_args()

    if args.scale == "smoke":
        name, accounts, days, history, activity = ("smoke-30d", 300, 30, 60, 1.0)
    else:
        name, accounts, days, history, activity = ("10M", 24_000, 30, 365, 2.3)
    data = os.path.join(args.dir, "data", name)
    rows = bench.generate(args.binary, data, accounts, days, history, activity)
    root = os.path.join(args.dir, "cluster", name)
    url, procs = start_cluster(args.binary, root, 2)
    try:
        sides = {}
        for side, extra in [("local", ""),
                            ("cluster", f'\n[engine]\nkind = "ballista"\nurl = "{url}"\n')]:
            work = os.path.join(root, side)
            cfg = bench.config(work, data, extra)
            out = os.path.join(work, "features.parquet")
            cmd = [args.binary, "--config", cfg, "-q", "features", "--out", out]
            restore = bench.prime(args.binary, cfg, work)
            sides[side] = {"cmd": cmd, "out": out, "restore": restore, "daily": [], "full": []}
        # Honesty first: the same account_features from both engines, daily and full.
        for mode in ["daily", "full"]:
            for s in sides.values():
                s["restore"]()
                bench.sh(s["cmd"] + (["--full-refresh"] if mode == "full" else []))
            if not same(args.python, sides["local"]["out"], sides["cluster"]["out"]):
                sys.exit(f"{mode}: the cluster's account_features differ from the local engine's")
        for _ in range(args.reps):
            for s in sides.values():
                s["restore"]()
                s["daily"].append(bench.timed(s["cmd"])[0])
                s["full"].append(bench.timed(s["cmd"] + ["--full-refresh"])[0])
    finally:
        for proc in procs:
            proc.kill()
    med = {side: {m: statistics.median(s[m]) for m in ["daily", "full"]} for side, s in sides.items()}
    lines = [
        "| dataset | tracks rows | engine | features (daily) | features --full-refresh |",
        "|---|---|---|---|---|",
        f"| {name} | {rows:,} | local | {bench.fmt_s(med['local']['daily'])} | "
        f"{bench.fmt_s(med['local']['full'])} |",
        f"| {name} | {rows:,} | Ballista: 1 scheduler + 2 executors, same machine | "
        f"{bench.fmt_s(med['cluster']['daily'])} | {bench.fmt_s(med['cluster']['full'])} |",
        f"| | | cluster / local | {med['cluster']['daily'] / med['local']['daily']:.2f} | "
        f"{med['cluster']['full'] / med['local']['full']:.2f} |",
    ]
    table = "\n".join(lines)
    print(table)
    with open(args.results, "w") as f:
        f.write(
            f"# Local engine vs Ballista cluster\n\n`bench/cluster.sh{' --smoke' if args.scale == 'smoke' else ''}`"
            f" on {bench.dt.date.today()}, {bench.platform.machine()}, {os.cpu_count()} cores; "
            f"one pqlsync release build with `--features ballista` for the job, the scheduler and "
            f"both executors; median of {args.reps} alternating runs of each whole process. Both "
            f"engines' `account_features` were checked equal (DuckDB `EXCEPT ALL` both ways), "
            f"daily and full refresh, before timing.\n\n{table}\n"
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""History benchmark: what a team's first setup and a monthly recalibration cost.

    bench/history.py [--binary BIN] [--baseline OLD_BIN [--baseline-sql OLD_SQL_DIR]]
                     [--days 120] [--reps 3]

On `history-180d` (bench.DATASETS: 1,500 accounts, 180 days of events, about 12 million
`tracks` rows; generated on the first run), times whole processes, each side once per round:

- `features --full-refresh` (the rollups removed first): the unit the others are measured in;
- `backfill` of the last DAYS days (the score history removed first);
- `calibrate` over the trials that started in those days.

Before timing, each binary's backfill must write the same snapshot rows as the baseline's
(when one is given) and `calibrate` the same suggested scorecard. Prints medians, peak RSS
and each command's ratio to one full refresh, as a Markdown table, and writes it to
bench/results-history.md.
"""

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys

import bench

HERE = os.path.dirname(os.path.abspath(__file__))
NAME, ACCOUNTS, DAYS, HISTORY, ACTIVITY = bench.DATASETS["history"][0]


def commands(binary, cfg, work, days):
    """Each command: (name, argv, what to remove before it)."""
    as_of = dt.date.fromisoformat(bench.AS_OF)
    first = (as_of - dt.timedelta(days=days - 1)).isoformat()
    base = [binary, "--config", cfg, "-q"]
    return [
        ("features --full-refresh",
         base + ["features", "--full-refresh", "--out", os.path.join(work, "features.parquet")],
         os.path.join(work, "incremental")),
        (f"backfill {days} days", base + ["backfill", "--from", first, "--to", bench.AS_OF],
         os.path.join(work, "history")),
        (f"calibrate over trials from {first}",
         base + ["calibrate", "--from", first, "--out", os.path.join(work, "calibration")],
         os.path.join(work, "calibration")),
    ]


def disagreement(a, b):
    """Why two builds' outputs differ, or None: the backfilled snapshot rows (every column,
    every day) and the suggested scorecard must be the same."""
    import duckdb  # the bench's virtualenv has it (bench/setup.sh)

    def rows(work):
        return (f"SELECT * FROM read_parquet('{work}/history/*/snapshot.parquet', "
                "hive_partitioning = false)")

    con = duckdb.connect()
    for x, y in ((a, b), (b, a)):
        only = con.sql(f"SELECT count(*) FROM ({rows(x)} EXCEPT ALL {rows(y)})").fetchall()[0][0]
        if only:
            return f"{only} backfilled snapshot rows of {x} are not in {y}"
    cards = []
    for work in (a, b):
        with open(os.path.join(work, "calibration", "calibration.toml")) as f:
            cards.append(f.read())
    if cards[0] != cards[1]:
        return "the builds suggest different scorecards"
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/pqlsync-target")),
        "release", "pqlsync"))
    p.add_argument("--baseline", help="an older pqlsync binary, timed in the same rounds")
    p.add_argument("--baseline-sql", help="the baseline's sql/ directory (default: this checkout's)")
    p.add_argument("--dir", default=os.environ.get("BENCH_DIR", os.path.expanduser(
        "~/.cache/pqlsync-bench")))
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--results", default=os.path.join(HERE, "results-history.md"))
    args = p.parse_args()

    data = os.path.join(args.dir, "data", NAME)
    rows = bench.generate(args.binary, data, ACCOUNTS, DAYS, HISTORY, ACTIVITY)
    sides = {"pqlsync": (args.binary, None)}
    if args.baseline:
        sides["baseline"] = (args.baseline, args.baseline_sql)
    runs = {}
    for side, (binary, sql) in sides.items():
        work = os.path.join(args.dir, "work", f"{NAME}-{side}")
        shutil.rmtree(work, ignore_errors=True)
        cfg = bench.config(work, data, sql=sql)
        runs[side] = (work, commands(binary, cfg, work, args.days))
    # Honesty first: both builds suggest the same scorecard from the same history.
    for side, (work, cmds) in runs.items():
        for _, argv, clean in cmds:
            shutil.rmtree(clean, ignore_errors=True)
            bench.sh(argv)
    if args.baseline:
        why = disagreement(runs["pqlsync"][0], runs["baseline"][0])
        if why:
            sys.exit(f"{why}: fix that before timing them")
        print("same backfilled snapshots and suggested scorecard")
    times = {(side, name): [] for side, (_, cmds) in runs.items() for name, _, _ in cmds}
    for _ in range(args.reps):
        for side, (work, cmds) in runs.items():
            for name, argv, clean in cmds:
                shutil.rmtree(clean, ignore_errors=True)
                times[(side, name)].append(bench.timed(argv))

    lines = [
        "# History benchmark",
        "",
        f"`bench/history.py --days {args.days} --reps {args.reps}"
        f"{' --baseline ' + os.path.basename(args.baseline) if args.baseline else ''}` on "
        f"{dt.date.today()}: `{NAME}` ({rows:,} `tracks` rows, {ACCOUNTS:,} accounts, "
        f"{DAYS} days), as of {bench.AS_OF}, the shipped `[engine]`; median of {args.reps} "
        "whole processes, peak RSS from `/usr/bin/time -v`.",
        "",
        "| build | command | time | peak RSS | x one full refresh |",
        "|---|---|---|---|---|",
    ]
    for side, (_, cmds) in runs.items():
        unit = statistics.median(w for w, _ in times[(side, cmds[0][0])])
        for name, _, _ in cmds:
            measured = times[(side, name)]
            wall = statistics.median(w for w, _ in measured)
            rss = max(r for _, r in measured)
            lines.append(f"| {side} | `{name}` | {bench.fmt_s(wall)} | {bench.fmt_gib(rss)} "
                         f"| {wall / unit:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.results, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

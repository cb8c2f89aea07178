#!/usr/bin/env python3
"""pqlsync vs DuckDB on the same feature SQL and the same files; driven by bench/run.sh.

For each dataset: check that both sides produce the same `account_features`, then time
alternately (REPS times each, whole processes, `/usr/bin/time -v` for peak RSS):

- `pqlsync features` as a daily scheduled run does it: the rollups of `sql/incremental/` are
  restored to what yesterday's run left before every timed run (outside the timing), so each
  run adds one day to them and reads the unsettled days live;
- `pqlsync features --full-refresh`: the rollups rebuilt from all history, the same work DuckDB
  does;
- DuckDB on the same SQL (incremental views over all history);
- `pqlsync run --dry-run` (daily, like the first).

pqlsync runs with the `[engine]` section of the shipped pqlsync.toml (a memory limit, every
core). On the 50M dataset also `features` under `[engine] memory_limit = "512MB"`, daily and
full refresh, each checked equal to a run without a limit. Prints a table and writes
bench/results.md.
"""

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
AS_OF = "2026-11-20"

CONFIG = """
[run]
as_of = "{as_of}"

[sources]
tracks = "{d}/tracks"
identifies = "{d}/identifies"
groups = "{d}/groups.parquet"
subscriptions = "{d}/stripe/subscriptions.parquet"
subscription_items = "{d}/stripe/subscription_items.parquet"
customers_metadata = "{d}/stripe/customers_metadata.parquet"

[sources.events]
rows_imported = "{d}/events/rows_imported"

[sql]
dir = "{sql}"

[routing.owners]
enterprise = ["ae@example.com"]
self_serve = ["ssr1@example.com", "ssr2@example.com"]

[state]
url = "{work}/state"

[output]
dir = "{work}/out"
{extra}
"""


# Per scale: name, accounts, days, history days, activity. The 30- and 365-day datasets share
# accounts and every day's events (same seed and history), so the 30-day one holds exactly
# the 365-day one's last 30 days. 24,000 accounts at activity 2.3 make ~10M events a month.
DATASETS = {
    "smoke": [("smoke-30d", 300, 30, 60, 1.0), ("smoke-60d", 300, 60, 60, 1.0)],
    "full": [
        ("10M", 24_000, 30, 365, 2.3),
        ("50M", 121_000, 30, 365, 2.3),
        ("365d", 24_000, 365, 365, 2.3),
    ],
    # bench/history.py: six months of events for fewer accounts, about 12 million rows.
    "history": [("history-180d", 1_500, 180, 180, 14.0)],
}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd, timeout=None):
    """Wall seconds and peak RSS (KiB) of a whole process; None if it ran past `timeout`."""
    start = time.monotonic()
    # Its own process group, so a run past the timeout is stopped with everything it started
    # (/usr/bin/time, pqlsync), and nothing else.
    p = subprocess.Popen(
        ["/usr/bin/time", "-v"] + cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{out}\n{err[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    return wall, rss


def generate(binary, out, accounts, days, history_days, activity):
    marker = os.path.join(out, "generated.json")
    wanted = {
        "accounts": accounts,
        "days": days,
        "history_days": history_days,
        "activity": activity,
        "as_of": AS_OF,
    }
    if os.path.exists(marker):
        with open(marker) as f:
            info = json.load(f)
        if info.get("wanted") == wanted:
            return info["tracks_rows"]
    sh(["rm", "-rf", out])
    p = subprocess.run(
        [
            binary, "demo-data", "--out", out, "--accounts", str(accounts), "--days", str(days),
            "--history-days", str(history_days), "--activity", str(activity), "--as-of", AS_OF,
        ],
        check=True, stdout=subprocess.PIPE, text=True,
    )
    rows = int(re.search(r"tracks\s+([\d,]+) rows", p.stdout).group(1).replace(",", ""))
    with open(marker, "w") as f:
        json.dump({"wanted": wanted, "tracks_rows": rows}, f)
    print(p.stdout.strip())
    return rows


def shipped_engine():
    """The `[engine]` section of the repository's pqlsync.toml, as TOML lines."""
    with open(os.path.join(REPO, "pqlsync.toml"), "rb") as f:
        engine = tomllib.load(f).get("engine", {})
    lines = ["[engine]"] + [f"{k} = {json.dumps(v)}" for k, v in engine.items()]
    return "\n".join(lines) + "\n"


def config(work, data, extra=None, sql=None):
    """A config for `data` in `work`: the shipped `[engine]` unless `extra` says otherwise,
    this checkout's sql/ unless `sql` names another (a change to the SQL is part of what a
    comparison of two builds compares)."""
    if extra is None:
        extra = shipped_engine()
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "pqlsync.toml")
    with open(path, "w") as f:
        f.write(
            CONFIG.format(
                as_of=AS_OF, d=data, sql=os.path.abspath(sql or os.path.join(REPO, "sql")),
                work=work, extra=extra,
            )
        )
    return path


def yesterday():
    return (dt.date.fromisoformat(AS_OF) - dt.timedelta(days=1)).isoformat()


def prime(binary, cfg, work):
    """Leave the rollups as yesterday's scheduled run would have; return a restore function."""
    incremental = os.path.join(work, "incremental")
    saved = os.path.join(work, "incremental.yesterday")
    # No state from earlier runs: the dry run then loads no routing memory, on every dataset
    # alike (a state left by hand in one work dir once made its dry run slower than others').
    sh(["rm", "-rf", incremental, saved, os.path.join(work, "state")])
    sh([binary, "--config", cfg, "-q", "features", "--as-of", yesterday(), "--out",
        os.path.join(work, "yesterday.parquet")])
    sh(["cp", "-r", incremental, saved])

    def restore():
        sh(["rm", "-rf", incremental])
        sh(["cp", "-r", saved, incremental])

    return restore


def fmt_s(x):
    return f"{x:.2f} s"


def fmt_gib(kib):
    return f"{kib / 1024 / 1024:.2f} GiB"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--dir", required=True, help="where datasets and outputs go")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--scale", choices=["full", "smoke"], default="full")
    p.add_argument("--results", default=os.path.join(HERE, "results.md"))
    p.add_argument("--sets", default="", help="only these datasets, e.g. 10M,50M (default: all)")
    args = p.parse_args()
    duck = [args.python, os.path.join(HERE, "duckdb_features.py")]

    sets = DATASETS[args.scale]
    if args.sets:
        wanted = args.sets.split(",")
        sets = [s for s in sets if s[0] in wanted]
        if not sets:
            sys.exit(f"--sets {args.sets}: no such dataset")
    rows = {}
    results = []
    for name, accounts, days, history, activity in sets:
        data = os.path.join(args.dir, "data", name)
        rows[name] = generate(args.binary, data, accounts, days, history, activity)
        work = os.path.join(args.dir, "work", name)
        cfg = config(work, data)
        pql_out = os.path.join(work, "pqlsync.parquet")
        duck_out = os.path.join(work, "duckdb.parquet")
        pql = [args.binary, "--config", cfg, "-q", "features", "--out", pql_out]
        ddb = duck + ["--data", data, "--sql", os.path.join(REPO, "sql"), "--as-of", AS_OF,
                      "--out", duck_out]
        full = pql + ["--full-refresh"]
        restore = prime(args.binary, cfg, work)
        # Honesty first: both sides must compute the same thing, from a rollup extended by a
        # day and from all history alike.
        restore()
        timed(pql)
        timed(ddb)
        sh(duck + ["--compare", pql_out, duck_out])
        timed(full)
        sh(duck + ["--compare", pql_out, duck_out])
        dry = [args.binary, "--config", cfg, "-q", "run", "--dry-run"]
        times = {"pqlsync": [], "full-refresh": [], "duckdb": [], "dry-run": []}
        # Every side once per round, so drift on the machine falls on all of them alike. The
        # daily runs (features and dry run) each start from yesterday's rollup.
        for _ in range(args.reps):
            restore()
            times["pqlsync"].append(timed(pql))
            times["full-refresh"].append(timed(full))
            times["duckdb"].append(timed(ddb))
            restore()
            times["dry-run"].append(timed(dry))
        row = {"dataset": name, "rows": rows[name]}
        for side, runs in times.items():
            row[side] = (statistics.median(w for w, _ in runs), max(r for _, r in runs))
        results.append(row)
        print(json.dumps(row))

    big = sets[1][0] if args.scale == "full" and len(sets) > 1 else sets[0][0]
    data = os.path.join(args.dir, "data", big)
    shipped = next(r for r in results if r["dataset"] == big)
    # The reference: the same features without any memory limit.
    work = os.path.join(args.dir, "work", big + "-unlimited")
    reference = os.path.join(work, "pqlsync.parquet")
    sh([args.binary, "--config", config(work, data, ""), "-q", "features", "--full-refresh",
        "--out", reference])
    work = os.path.join(args.dir, "work", big + "-512MB")
    cfg = config(work, data, '[engine]\nmemory_limit = "512MB"\n')
    out = os.path.join(work, "pqlsync.parquet")
    restore = prime(args.binary, cfg, work)
    memory = []
    for mode, flags, base in [("daily", [], shipped["pqlsync"][0]),
                              ("full refresh", ["--full-refresh"], shipped["full-refresh"][0])]:
        restore()
        limit = max(120.0, 10 * base)
        measured = timed(
            [args.binary, "--config", cfg, "-q", "features", "--out", out] + flags, timeout=limit
        )
        if measured is not None:
            sh(duck + ["--compare", out, reference])
            memory.append((mode, measured[0], measured[1], None))
        else:
            memory.append((mode, None, None,
                           f"did not finish within {limit:.0f} s (10x the shipped config's run)"))

    cpu = os.cpu_count()
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb  # noqa: E402  (only to name its version)

    lines = [
        "# Benchmark results",
        "",
        f"`bench/run.sh` on {dt.date.today()}, {platform.machine()}, {cpu} cores, "
        f"{mem_gib:.0f} GiB; pqlsync release build with the shipped pqlsync.toml's "
        f"`{' '.join(shipped_engine().split(chr(10))[1:]).strip()}` (all {cpu} cores) vs DuckDB "
        f"{duckdb.__version__} (PyPI), "
        f"same SQL (`sql/`), same files, median of {args.reps} alternating runs of each whole "
        "process, peak RSS from `/usr/bin/time -v`. Both sides' `account_features` were "
        "checked equal before timing.",
        "",
        "| dataset | tracks rows | pqlsync features (daily) | events/s | peak RSS "
        "| pqlsync --full-refresh | peak RSS | DuckDB | peak RSS | DuckDB / pqlsync daily "
        "| DuckDB / pqlsync full | run --dry-run (daily) | dry-run / features |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        (pt, pr), (ft, fr), (dt_, dr), (rt, rr) = (
            r["pqlsync"], r["full-refresh"], r["duckdb"], r["dry-run"])
        lines.append(
            f"| {r['dataset']} | {r['rows']:,} | {fmt_s(pt)} | {r['rows'] / pt / 1e6:.1f} M "
            f"| {fmt_gib(pr)} | {fmt_s(ft)} | {fmt_gib(fr)} | {fmt_s(dt_)} | {fmt_gib(dr)} "
            f"| {dt_ / pt:.2f} | {dt_ / ft:.2f} | {fmt_s(rt)} | {rt / pt:.2f} |"
        )
    if len(results) >= 3 or args.scale == "smoke":
        short, long_ = results[0], results[-1]
        ratio = lambda side: long_[side][0] / short[side][0]  # noqa: E731
        lines += [
            "",
            f"History: {long_['dataset']} ({long_['rows']:,} rows) takes "
            f"{ratio('pqlsync'):.2f}x the time of {short['dataset']} (the same last 30 days) "
            f"in a daily run, {ratio('full-refresh'):.2f}x with --full-refresh, and DuckDB "
            f"{ratio('duckdb'):.2f}x.",
        ]
    lines += ["", f"Memory, {big} with `memory_limit = \"512MB\"` on all {cpu} cores "
              "(target: peak RSS under 1 GiB):", ""]
    for mode, wall, rss, failure in memory:
        if failure:
            lines.append(f"- {mode}: {failure}.")
        else:
            lines.append(
                f"- {mode}: {fmt_s(wall)}, peak RSS {fmt_gib(rss)}, same `account_features` "
                "as a run without a limit."
            )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    with open(args.results, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()

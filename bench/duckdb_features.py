#!/usr/bin/env python3
"""Run pqlsync's feature SQL in DuckDB: the baseline of bench/run.sh.

The SQL is pqlsync's own `sql/staging/*.sql`, `sql/incremental/*.sql` and `sql/features/*.sql`,
unchanged except that pqlsync's typed parameters are written in as literals ($as_of,
$as_of_date, $account_id_key; an incremental view's window $increment_from/$increment_to
covers all history up to $as_of, or the days its `-- @retain` keeps, which is what pqlsync's
rollup plus live days add up to) and
`raw.*` are views over the same Parquet files. Views are created in
dependency order (retrying those whose inputs do not exist yet), then `account_features` is
written to Parquet. Optional contract columns a dataset lacks read as NULL, as in pqlsync.

    duckdb_features.py --data DIR --sql DIR --as-of YYYY-MM-DD --out FILE [--memory-limit 512MB]
    duckdb_features.py --compare A.parquet B.parquet
"""

import argparse
import datetime as dt
import glob
import os
import re
import sys

import duckdb

# Mirrors src/source/contract.rs: optional columns and their DuckDB types.
OPTIONAL = {
    "tracks": {"anonymous_id": "VARCHAR", "event_text": "VARCHAR", "received_at": "TIMESTAMPTZ"},
    "identifies": {"id": "VARCHAR", "anonymous_id": "VARCHAR", "received_at": "TIMESTAMPTZ"},
    "groups": {
        "id": "VARCHAR",
        "user_id": "VARCHAR",
        "received_at": "TIMESTAMPTZ",
        "name": "VARCHAR",
        "plan": "VARCHAR",
    },
    "subscriptions": {"quantity": "BIGINT", "price_id": "VARCHAR"},
    "subscription_items": {"price_id": "VARCHAR"},
    "customers_metadata": {},
    "rows_imported": {"user_id": "VARCHAR", "received_at": "TIMESTAMPTZ"},
}

# Contract timestamp columns. Arrow writes second-unit timestamps as plain INT64 (Parquet has
# no seconds unit; only the embedded Arrow schema says so), which DuckDB reads as BIGINT.
TIMESTAMPS = {
    "subscriptions": {"created", "start_date", "trial_start", "trial_end", "canceled_at", "ended_at"},
}

# Where `pqlsync demo-data` writes each dataset.
LAYOUT = {
    "tracks": "tracks",
    "identifies": "identifies",
    "groups": "groups.parquet",
    "subscriptions": "stripe/subscriptions.parquet",
    "subscription_items": "stripe/subscription_items.parquet",
    "customers_metadata": "stripe/customers_metadata.parquet",
    "rows_imported": "events/rows_imported",
}


def literal(s):
    return "'" + s.replace("'", "''") + "'"


def register_raw(con, data):
    con.execute("CREATE SCHEMA raw")
    for name, rel in LAYOUT.items():
        path = os.path.join(data, rel)
        pattern = path if path.endswith(".parquet") else os.path.join(path, "**", "*.parquet")
        if not glob.glob(pattern, recursive=True):
            sys.exit(f"no Parquet files for raw.{name} at {pattern}")
        scan = (
            f"read_parquet({literal(pattern)}, hive_partitioning = true, union_by_name = true)"
        )
        described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        present = {row[0] for row in described}
        # As pqlsync's source module does: timestamps without a zone are UTC, every unit is
        # read as one timestamp type.
        def column(c, t):
            if t.startswith("TIMESTAMP") and "TIME ZONE" not in t:
                return f'CAST("{c}" AS TIMESTAMPTZ) AS "{c}"'
            if t == "BIGINT" and c in TIMESTAMPS.get(name, ()):
                return f'to_timestamp("{c}") AS "{c}"'
            return f'"{c}"'

        columns = [column(c, t) for c, t, *_ in described]
        columns += [
            f"CAST(NULL AS {t}) AS {c}" for c, t in OPTIONAL[name].items() if c not in present
        ]
        con.execute(f"CREATE VIEW raw.{name} AS SELECT {', '.join(columns)} FROM {scan}")


def retained_days(sql):
    """An incremental view's `-- @retain COLUMN N days`: N, or None (all history)."""
    m = re.search(r"^\s*--\s*@retain\s+\w+\s+(\d+)", sql, re.MULTILINE)
    return int(m.group(1)) if m else None


def bind(sql, as_of):
    end = as_of + dt.timedelta(days=1)
    # What pqlsync's rollup plus live days add up to: all history, or the days it retains.
    days = retained_days(sql)
    first = (end - dt.timedelta(days=days)).isoformat() if days else "0001-01-01"
    sql = sql.replace("$increment_from", f"TIMESTAMPTZ '{first} 00:00:00+00'")
    sql = sql.replace("$increment_to", "$as_of")
    sql = sql.replace("$as_of_date", f"DATE '{as_of.isoformat()}'")
    sql = sql.replace("$as_of", f"TIMESTAMPTZ '{end.isoformat()} 00:00:00+00'")
    return sql.replace("$account_id_key", "'account_id'")


def create_views(con, sql_dir, as_of):
    for seed in sorted(glob.glob(os.path.join(sql_dir, "seeds", "*.csv"))):
        name = os.path.splitext(os.path.basename(seed))[0]
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv({literal(seed)}, header = true)"
        )
    pending = []
    for layer in ("staging", "incremental", "features"):
        for path in sorted(glob.glob(os.path.join(sql_dir, layer, "*.sql"))):
            with open(path) as f:
                pending.append((os.path.splitext(os.path.basename(path))[0], path, f.read()))
    while pending:
        retry, last_error = [], None
        for name, path, sql in pending:
            body = re.sub(r";\s*$", "", bind(sql, as_of).strip())
            try:
                con.execute(f"CREATE VIEW {name} AS {body}")
            except duckdb.CatalogException as e:
                retry.append((name, path, sql))
                last_error = f"{path}: {e}"
        if len(retry) == len(pending):
            sys.exit(f"cannot create views: {last_error}")
        pending = retry


def features(args):
    as_of = dt.date.fromisoformat(args.as_of)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if args.memory_limit:
        con.execute(f"SET memory_limit = {literal(args.memory_limit)}")
    if args.threads:
        con.execute(f"SET threads = {int(args.threads)}")
    register_raw(con, args.data)
    create_views(con, args.sql, as_of)
    con.execute(
        f"COPY (SELECT * FROM account_features) TO {literal(args.out)} (FORMAT parquet)"
    )
    n = con.execute(f"SELECT count(*) FROM read_parquet({literal(args.out)})").fetchone()[0]
    print(f"duckdb: {n} accounts to {args.out}")


def compare(a, b):
    """Every account and every column of `a` equal in `b` (floats to 1e-9 relative)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet({literal(a)})")
    con.execute(f"CREATE VIEW b AS SELECT * FROM read_parquet({literal(b)})")
    cols_a = {r[0]: r[1] for r in con.execute("DESCRIBE a").fetchall()}
    cols_b = {r[0]: r[1] for r in con.execute("DESCRIBE b").fetchall()}
    problems = []
    if set(cols_a) != set(cols_b):
        problems.append(f"columns differ: {sorted(set(cols_a) ^ set(cols_b))}")
    counts = con.execute("SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM b)").fetchone()
    if counts[0] != counts[1]:
        problems.append(f"row counts differ: {counts[0]} vs {counts[1]}")
    unmatched = con.execute(
        "SELECT count(*) FROM a FULL JOIN b USING (account_id) "
        "WHERE a.account_id IS NULL OR b.account_id IS NULL"
    ).fetchone()[0]
    if unmatched:
        problems.append(f"{unmatched} accounts are in only one file")
    for col in sorted(set(cols_a) & set(cols_b)):
        if col == "account_id":
            continue
        if cols_a[col] in ("DOUBLE", "FLOAT") or cols_b[col] in ("DOUBLE", "FLOAT"):
            differ = (
                f"(a.{col} IS NULL) <> (b.{col} IS NULL) OR "
                f"abs(a.{col} - b.{col}) > 1e-9 * greatest(1, abs(a.{col}))"
            )
        else:
            differ = f"a.{col} IS DISTINCT FROM b.{col}"
        bad = con.execute(
            f"SELECT count(*), any_value(account_id) FROM a JOIN b USING (account_id) WHERE {differ}"
        ).fetchone()
        if bad[0]:
            problems.append(f"column {col}: {bad[0]} accounts differ (e.g. {bad[1]})")
    if problems:
        print("MISMATCH " + a + " vs " + b + ":\n  " + "\n  ".join(problems))
        return 1
    print(f"same account_features: {counts[0]} accounts x {len(cols_a)} columns")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data")
    p.add_argument("--sql")
    p.add_argument("--as-of")
    p.add_argument("--out")
    p.add_argument("--memory-limit")
    p.add_argument("--threads")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = p.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    for flag in ("data", "sql", "as_of", "out"):
        if getattr(args, flag) is None:
            p.error(f"--{flag.replace('_', '-')} is required")
    features(args)


if __name__ == "__main__":
    main()

"""pqlsync from Airflow: one run per day, scoring the DAG run's logical date.

Copy this file to the DAGs folder of an Airflow 2.4+ deployment whose workers have the
pqlsync binary (or swap the BashOperator for a KubernetesPodOperator running the image with
the same arguments). The HubSpot token is not passed by Airflow at all, so it never appears
in a rendered template or a task log: pqlsync reads it from `[hubspot] token_file` (a file
only the worker's user can read, e.g. a mounted secret) or from HUBSPOT_TOKEN in the
worker's own environment. See README "Deploying".
"""

import datetime as dt

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="pqlsync",
    # 06:15 UTC, after the nightly exports land. {{ ds }} is then the day before: the last
    # complete day, the one the run scores.
    schedule="15 6 * * *",
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
    # A day's run is idempotent, but routing memory only moves forward: no backfilled
    # catch-up of past days (use `pqlsync backfill` for history).
    catchup=False,
    # Never two at once (pqlsync's lock would make the second exit 3 anyway).
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=10)},
) as dag:
    BashOperator(
        task_id="run",
        bash_command=(
            "pqlsync --config /opt/pqlsync/pqlsync.toml --log-format json "
            "--as-of {{ ds }} run --summary-json /var/log/pqlsync/{{ ds }}.json"
        ),
        # 3: another run holds the state, so this one did nothing; not a failure.
        skip_on_exit_code=[3],
        execution_timeout=dt.timedelta(hours=2),
    )

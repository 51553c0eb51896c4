"""Millstream's retraining as an Airflow DAG: one task per step of `millstream retrain` (docs/lifecycle.md).

Each task runs `millstream retrain --config CONFIG --run RUN --step STEP`; the run is named after the DAG run, so a
task that Airflow retries resumes the same run (the steps done are kept in the run's state), and the tasks share the
run's files (its snapshot, hold-out and model) through the retrain config's `work` directory.

Environment (Airflow's workers):
  MILLSTREAM_RETRAIN_CONFIG  the retrain config (default /etc/millstream/retrain.yaml)
  MILLSTREAM_BIN             the millstream binary (default: millstream on PATH)
  MILLSTREAM_TOKEN           an engineer token for the server's promotion calls (the shadow and decide steps)
"""

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

CONFIG = os.environ.get("MILLSTREAM_RETRAIN_CONFIG", "/etc/millstream/retrain.yaml")
MILLSTREAM = os.environ.get("MILLSTREAM_BIN", "millstream")
STEPS = ["snapshot", "validate", "split", "train", "evaluate", "register", "shadow", "decide"]
# Airflow's run ids hold ':' and '+'; a Millstream run is letters, digits and - _ . +
RUN = "{{ run_id | replace(':', '-') | replace('+', '_') }}"

with DAG(
    dag_id="millstream_retrain",
    description="Snapshot the plant's readings, retrain, evaluate against the champion, shadow, promote or reject",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["millstream"],
) as dag:
    previous = None
    for step in STEPS:
        task = BashOperator(
            task_id=step,
            bash_command=f'"{MILLSTREAM}" retrain --config "{CONFIG}" --run "{RUN}" --step {step}',
            # The shadow step waits for live evidence up to the config's shadow.timeout.
            execution_timeout=timedelta(hours=26) if step == "shadow" else timedelta(hours=2),
        )
        if previous is not None:
            previous >> task
        previous = task

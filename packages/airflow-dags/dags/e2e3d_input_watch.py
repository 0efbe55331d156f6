"""e2e3d_input_watch: starts e2e3d_reconstruction for every image set that lands in the input bucket.

A user uploads the images under a prefix, then a `_READY` marker object (e.g. s3://in/scans/chair/_READY).
Every two minutes this DAG lists the watched prefix (Airflow variable `e2e3d_watch_input`, or env
AIRFLOW_VAR_E2E3D_WATCH_INPUT) and triggers one reconstruction per marker, writing under the variable
`e2e3d_watch_output`. The run id is derived from the marker (see e2e3d_lib.watch.ready_run_id) and
`skip_when_already_exists` makes a marker already seen a skipped no-op, so a set is never triggered twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

from e2e3d_lib.connections import OBJECT_STORE_CONN_ID
from e2e3d_lib.errors import ConfigurationError

WATCH_INPUT_VAR = "e2e3d_watch_input"
WATCH_OUTPUT_VAR = "e2e3d_watch_output"
log = logging.getLogger(__name__)


def _required_variable(key: str) -> str:
    from airflow.sdk import Variable

    value = Variable.get(key, default=None)
    if not value:
        raise ConfigurationError(
            f"Airflow variable {key!r} is not set: set it to s3://bucket/prefix in the UI "
            f"or as AIRFLOW_VAR_{key.upper()}"
        )
    return value


@task
def find_ready_image_sets() -> list[dict[str, Any]]:
    from e2e3d_lib.objectstore import client_from_connection
    from e2e3d_lib.s3uri import parse_s3_uri
    from e2e3d_lib.watch import find_ready_sets

    watch = parse_s3_uri(_required_variable(WATCH_INPUT_VAR), WATCH_INPUT_VAR)
    output = parse_s3_uri(_required_variable(WATCH_OUTPUT_VAR), WATCH_OUTPUT_VAR)
    requests = find_ready_sets(client_from_connection(OBJECT_STORE_CONN_ID), watch, output)
    log.info("%d image sets with a _READY marker under %s", len(requests), watch.uri)
    return requests


with DAG(
    dag_id="e2e3d_input_watch",
    description="Trigger a reconstruction for every image set marked _READY in the input bucket",
    schedule=timedelta(minutes=2),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=10),
    default_args={
        "owner": "e2e3d",
        "retries": 2,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(minutes=5),
    },
    tags=["e2e3d"],
) as dag:
    TriggerDagRunOperator.partial(
        task_id="trigger_reconstruction",
        trigger_dag_id="e2e3d_reconstruction",
        skip_when_already_exists=True,
        wait_for_completion=False,
    ).expand_kwargs(find_ready_image_sets())

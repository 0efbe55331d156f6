"""e2e3d_reconstruction: one run reconstructs one image set.

Trigger with conf {"input": "s3://bucket/prefix", "output": "s3://bucket/prefix", "options": {...}}.
validate_input → submit_job → wait_for_job (deferred: no worker slot while the job runs) → verify_outputs →
publish_summary. Every task is idempotent: the job is submitted with the DAG run id as idempotency key, so a
retried submit returns the job the first attempt started.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from e2e3d_lib.connections import (
    OBJECT_STORE_CONN_ID,
    RECONSTRUCTION_API_CONN_ID,
    bearer_headers,
    get_connection,
    http_base_url,
)
from e2e3d_lib.errors import InvalidInputError
from e2e3d_lib.operators import WaitForReconstructionJobOperator
from e2e3d_lib.s3uri import parse_s3_uri
from e2e3d_lib.summary import build_summary, format_summary

DAG_ID = "e2e3d_reconstruction"
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"
log = logging.getLogger(__name__)

# Transient errors (connection refused, 5xx, timeouts) are retried with exponential backoff; permanent ones
# raise AirflowFailException subclasses (e2e3d_lib.errors) and fail at once. Every task has a time limit.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "e2e3d",
    "retries": 4,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(minutes=10),
}


def check_locations(input_uri: str, output_uri: str) -> None:
    """Output must not live inside the input set (the outputs would be counted as input next time)."""
    source = parse_s3_uri(input_uri, "params.input")
    target = parse_s3_uri(output_uri, "params.output")
    if source.bucket == target.bucket and target.prefix.startswith(source.prefix):
        raise InvalidInputError(f"params.output {target.uri} lies inside params.input {source.uri}; choose another")


@task
def validate_input() -> dict[str, Any]:
    from e2e3d_lib import objectstore

    params = get_current_context()["params"]
    check_locations(params["input"], params["output"])
    client = objectstore.client_from_connection(OBJECT_STORE_CONN_ID)
    info = objectstore.validate_input(client, parse_s3_uri(params["input"], "params.input"), params["min_images"])
    log.info("input %s: %d images (%d objects)", info["input"], info["image_count"], info["object_count"])
    return info


@task(retries=6)
def submit_job(input_info: dict[str, Any]) -> dict[str, Any]:
    from e2e3d_lib.api import ReconstructionApi

    context = get_current_context()
    params, run_id = context["params"], context["run_id"]
    conn = get_connection(RECONSTRUCTION_API_CONN_ID)
    with ReconstructionApi(http_base_url(conn), bearer_headers(conn)) as api:
        job = api.submit(params["input"], params["output"], params["options"], idempotency_key=run_id)
    log.info("job %s is %s (idempotency key %s, %d images)", job["id"], job["state"], run_id, input_info["image_count"])
    return job


@task
def verify_outputs(job: dict[str, Any]) -> dict[str, Any]:
    from e2e3d_lib import objectstore

    params = get_current_context()["params"]
    client = objectstore.client_from_connection(OBJECT_STORE_CONN_ID)
    outputs = objectstore.verify_outputs(client, parse_s3_uri(params["output"], "params.output"))
    log.info("job %s outputs verified: %s", job["id"], ", ".join(outputs["meshes"]))
    return outputs


@task
def publish_summary(input_info: dict[str, Any], job: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    summary = build_summary(input_info, job, outputs)
    log.info("%s", format_summary(summary))
    return summary  # the XCom the summary is published as


with DAG(
    dag_id=DAG_ID,
    description="Reconstruct one image set from the object store into a textured mesh",
    schedule=None,
    catchup=False,
    max_active_runs=8,
    dagrun_timeout=timedelta(hours=4),
    default_args=DEFAULT_ARGS,
    tags=["e2e3d"],
    params={
        "input": Param(type="string", pattern=S3_URI_PATTERN, description="Image set: s3://bucket/prefix"),
        "output": Param(type="string", pattern=S3_URI_PATTERN, description="Where outputs go: s3://bucket/prefix"),
        "options": Param({}, type="object", description="Reconstruction options, passed to the API unchanged"),
        "min_images": Param(3, type="integer", minimum=1, description="Fewer images than this fail validation"),
        "wait_timeout_minutes": Param(120, type="integer", minimum=1, maximum=1440, description="Job time limit"),
        "poll_interval_seconds": Param(
            10, type="integer", minimum=1, maximum=300, description="Job status poll period"
        ),
    },
) as dag:
    info = validate_input()
    job = submit_job(info)
    finished = WaitForReconstructionJobOperator(
        task_id="wait_for_job",
        job_id="{{ ti.xcom_pull(task_ids='submit_job')['id'] }}",
        retries=2,
        # Bounds the worker parts only (execute, execute_complete): in Airflow 3 the deferred wait is bounded by the
        # trigger's own timeout (param wait_timeout_minutes) and the defer timeout behind it.
        execution_timeout=timedelta(minutes=5),
    )
    job >> finished
    outputs = verify_outputs(finished.output)
    publish_summary(info, finished.output, outputs)

"""Whole DAG runs, in process (`dag.test()`, Airflow's own local runner, on a SQLite metadata DB), against the
S3 server of conftest and the reconstruction API stand-in: the task wrappers, XCom passing, the deferral and
its trigger run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PACKAGE_DIR
from tests.reconstruction_api_standin import job_error
from tests.test_objectstore_and_watch import put, write_outputs


@pytest.fixture(scope="module")
def airflow_db() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def reconstruction_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PACKAGE_DIR / "dags")).dags["e2e3d_reconstruction"]


@pytest.fixture
def connections(monkeypatch, s3_server, api) -> None:
    store = {
        "conn_type": "aws",
        "login": s3_server.access_key,
        "password": s3_server.secret_key,
        "extra": {"endpoint_url": s3_server.endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_E2E3D_OBJECT_STORE", json.dumps(store))
    monkeypatch.setenv("AIRFLOW_CONN_E2E3D_RECONSTRUCTION_API", json.dumps({"conn_type": "http", "host": api.url}))


def states(dag_run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in dag_run.get_task_instances()}


def image_set(client, bucket: str) -> dict:
    for i in range(3):
        put(client, bucket, f"scans/chair/img_{i}.jpg")
    return {
        "input": f"s3://{bucket}/scans/chair",
        "output": f"s3://{bucket}/out/chair",
        "options": {"max_image_size": 256},  # an option the service accepts (api-contract.json)
        "poll_interval_seconds": 1,
    }


def test_a_reconstruction_run_succeeds_and_publishes_its_summary(
    reconstruction_dag, connections, s3_server, bucket, api
):
    client = s3_server.client()
    conf = image_set(client, bucket)
    api.state.script = [{"state": "running", "stage": "dense"}, {"state": "succeeded", "stage": "upload"}]
    report = {"registered_images": 3, "f_score": 0.91, "timings": {"total": 4.2}}
    api.state.on_submit = lambda body: write_outputs(client, bucket, "out/chair/", report)

    run = reconstruction_dag.test(run_conf=conf)

    assert str(run.state) == "success", states(run)
    assert states(run) == {
        task: ("success", 1)
        for task in ("validate_input", "submit_job", "wait_for_job", "verify_outputs", "publish_summary")
    }
    [submitted] = [r for r in api.state.requests if r["method"] == "POST"]
    assert submitted["headers"]["Idempotency-Key"] == run.run_id
    summary = run.get_task_instance("publish_summary").xcom_pull(task_ids="publish_summary")
    assert summary["registered_images"] == 3
    assert summary["f_score"] == 0.91
    assert summary["images_in_input"] == 3


def test_a_failed_job_fails_the_run_without_retrying(reconstruction_dag, connections, s3_server, bucket, api):
    conf = image_set(s3_server.client(), bucket)
    api.state.script = [
        {"state": "failed", "stage": "sfm", "error": job_error("too_few_registered", "no image pairs matched")}
    ]

    run = reconstruction_dag.test(run_conf=conf)

    assert str(run.state) == "failed"
    result = states(run)
    assert result["wait_for_job"] == ("failed", 1)  # permanent: no second try
    assert result["verify_outputs"][0] == "upstream_failed"
    assert len([r for r in api.state.requests if r["method"] == "POST"]) == 1


def test_an_empty_input_fails_validation_and_submits_nothing(reconstruction_dag, connections, bucket, api):
    conf = {"input": f"s3://{bucket}/nothing-here", "output": f"s3://{bucket}/out/x", "poll_interval_seconds": 1}

    run = reconstruction_dag.test(run_conf=conf)

    assert states(run)["validate_input"] == ("failed", 1)
    assert api.state.requests == []


def test_no_env_leaks_between_tests():
    assert "AIRFLOW_CONN_E2E3D_OBJECT_STORE" not in os.environ


@pytest.fixture(scope="module")
def watch_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PACKAGE_DIR / "dags")).dags["e2e3d_input_watch"]


def test_the_watcher_triggers_each_ready_set_once(watch_dag, connections, s3_server, bucket, monkeypatch):
    from airflow.models.dagrun import DagRun

    client = s3_server.client()
    for name in ("chair", "table"):
        put(client, bucket, f"incoming/{name}/img_0.jpg")
        put(client, bucket, f"incoming/{name}/_READY", b"")
    monkeypatch.setenv("AIRFLOW_VAR_E2E3D_WATCH_INPUT", f"s3://{bucket}/incoming")
    monkeypatch.setenv("AIRFLOW_VAR_E2E3D_WATCH_OUTPUT", f"s3://{bucket}/results")

    def triggered() -> dict[str, dict]:
        return {r.run_id: r.conf for r in DagRun.find(dag_id="e2e3d_reconstruction") if bucket in r.run_id}

    first = watch_dag.test()
    assert str(first.state) == "success", states(first)
    runs = triggered()
    assert sorted(conf["input"] for conf in runs.values()) == [
        f"s3://{bucket}/incoming/chair/",
        f"s3://{bucket}/incoming/table/",
    ]
    assert {conf["output"] for conf in runs.values()} == {
        f"s3://{bucket}/results/chair/",
        f"s3://{bucket}/results/table/",
    }

    second = watch_dag.test()
    assert str(second.state) == "success", states(second)
    mapped = [ti for ti in second.get_task_instances() if ti.task_id == "trigger_reconstruction"]
    assert sorted(str(ti.state) for ti in mapped) == ["skipped", "skipped"]  # already triggered: no-ops
    assert triggered() == runs


def test_the_watcher_fails_loudly_without_its_variables(watch_dag, connections, monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_E2E3D_WATCH_INPUT", raising=False)
    run = watch_dag.test()
    assert states(run)["find_ready_image_sets"] == ("failed", 1)

"""Every Airflow role of the image working together on the lab: the DAGs are parsed by the dag processor, a run
triggered through the REST API is executed by the Celery worker, its wait is deferred to the triggerer, and it
reads and checks real objects in the lab's S3 stand-in. The reconstruction API is the stand-in of
tests/integration/standin_server.py (the real service is exercised by the full-stack suites)."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.integration.lab import docker, scrape_exporter_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def s3(object_store):
    from e2e3d_lib.objectstore import make_client

    client = make_client(
        {
            "endpoint_url": object_store["endpoint"],
            "aws_access_key_id": object_store["access_key"],
            "aws_secret_access_key": object_store["secret_key"],
            "region_name": "us-east-1",
        }
    )
    for bucket in ("e2e3d-input", "e2e3d-output"):
        client.create_bucket(Bucket=bucket)
    return client


@pytest.fixture(scope="module")
def rest(airflow_services, airflow_env, airflow_workers) -> httpx.Client:
    """An authenticated client of the API server; waits until the dag processor has registered both DAGs."""
    base = airflow_services["api_url"]
    password = airflow_env["E2E3D_AIRFLOW_ADMIN_PASSWORD"]
    token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=60)
    assert token.status_code in (200, 201), token.text
    client = httpx.Client(base_url=f"{base}/api/v2", timeout=60)
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    deadline = time.monotonic() + 420  # the dag processor's first parse, on a loaded machine
    while time.monotonic() < deadline:
        dags = client.get("/dags").json()
        if {d["dag_id"] for d in dags.get("dags", [])} >= {"e2e3d_reconstruction", "e2e3d_input_watch"}:
            break
        time.sleep(3)
    errors = client.get("/importErrors").json()
    assert errors["total_entries"] == 0, errors
    assert {d["dag_id"] for d in client.get("/dags").json()["dags"]} >= {"e2e3d_reconstruction", "e2e3d_input_watch"}
    return client


def trigger(rest: httpx.Client, dag_id: str, conf: dict) -> str:
    response = rest.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def wait_for_run(rest: httpx.Client, dag_id: str, run_id: str, timeout_s: float = 600) -> str:
    started = time.monotonic()
    state = "?"
    while time.monotonic() - started < timeout_s:
        state = rest.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(3)
    tis = rest.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    print(f"\n{dag_id} {run_id}: {state} after {time.monotonic() - started:.0f}s; "
          + ", ".join(f"{ti['task_id']}={ti['state']}" for ti in tis))  # fmt: skip
    return state


def upload_set(s3, prefix: str, ready: bool) -> None:
    for i in range(3):
        s3.put_object(Bucket="e2e3d-input", Key=f"{prefix}img_{i}.jpg", Body=b"\xff\xd8" + bytes(64))
    if ready:
        s3.put_object(Bucket="e2e3d-input", Key=f"{prefix}_READY", Body=b"")


def test_a_reconstruction_runs_through_every_role(rest, s3, network, image, airflow_workers):
    upload_set(s3, "manual/chair/", ready=False)
    conf = {"input": "s3://e2e3d-input/manual/chair", "output": "s3://e2e3d-output/chair", "poll_interval_seconds": 2}
    run_id = trigger(rest, "e2e3d_reconstruction", conf)
    state = wait_for_run(rest, "e2e3d_reconstruction", run_id)
    if state != "success":
        worker_log = docker("logs", "--tail", "80", airflow_workers["celery-worker"], check=False)
        pytest.fail(f"run {run_id} ended {state}; worker log:\n{worker_log.stdout[-4000:]}{worker_log.stderr[-4000:]}")
    summary = rest.get(
        f"/dags/e2e3d_reconstruction/dagRuns/{run_id}/taskInstances/publish_summary/xcomEntries/return_value"
    ).json()["value"]
    assert summary["registered_images"] == 3
    assert summary["f_score"] == 0.9
    assert summary["images_in_input"] == 3
    # Task metrics reach the exporter under the mapped name, labelled with the DAG and task.
    finished = re.compile(
        r'^airflow_ti_finish\{dag_id="e2e3d_reconstruction",state="success",task_id="publish_summary"\}', re.M
    )
    metrics = scrape_exporter_until(network, image, finished)
    assert finished.search(metrics), "\n".join(x for x in metrics.splitlines() if "ti_finish" in x)


def test_an_uploaded_set_is_reconstructed_once(rest, s3):
    upload_set(s3, "incoming/lamp/", ready=True)

    def lamp_runs() -> list[dict]:
        runs = rest.get("/dags/e2e3d_reconstruction/dagRuns", params={"limit": 100}).json()["dag_runs"]
        return [r for r in runs if r["conf"].get("input") == "s3://e2e3d-input/incoming/lamp/"]

    for _ in range(2):  # the second watcher run finds the same marker: no second reconstruction
        assert wait_for_run(rest, "e2e3d_input_watch", trigger(rest, "e2e3d_input_watch", {})) == "success"
    runs = lamp_runs()
    assert len(runs) == 1, runs
    assert runs[0]["conf"]["output"] == "s3://e2e3d-output/auto/lamp/"
    assert wait_for_run(rest, "e2e3d_reconstruction", runs[0]["dag_run_id"]) == "success"
    assert len(lamp_runs()) == 1

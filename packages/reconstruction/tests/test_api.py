"""The HTTP API in-process (FastAPI's TestClient) against moto's S3 server; no job runs here."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from e2e3d_reconstruction.api import create_app
from e2e3d_reconstruction.jobs import JobManager, JobStore
from e2e3d_reconstruction.metrics import Metrics
from e2e3d_reconstruction.store import ObjectStore

BODY = {"input": "s3://unit-input/set1", "output": "s3://unit-output/set1"}


@pytest.fixture
def client(tmp_path: Path, s3_server: dict[str, str]):
    store = ObjectStore(s3_server["endpoint"], s3_server["access_key"], s3_server["secret_key"])
    manager = JobManager(JobStore(tmp_path), store, Metrics(), concurrency=1, timeout_s=60, max_attempts=1)
    # Lifecycle not managed: no supervisor runs, so submitted jobs stay queued and the API is tested alone.
    with TestClient(create_app(manager, store, manage_lifecycle=False)) as c:
        yield c, manager


def test_submit_get_list_cancel(client) -> None:
    c, _ = client
    r = c.post("/v1/jobs", json={**BODY, "options": {"device": "cpu"}})
    assert r.status_code == 202
    job_id = r.json()["id"]
    got = c.get(f"/v1/jobs/{job_id}").json()
    assert got["state"] == "queued" and got["options"]["device"] == "cpu"
    assert [j["id"] for j in c.get("/v1/jobs").json()["jobs"]] == [job_id]
    assert c.get("/v1/jobs?state=running").json()["jobs"] == []
    assert c.post(f"/v1/jobs/{job_id}/cancel").json()["state"] == "cancelled"
    assert c.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_idempotency_key_header_returns_the_same_job(client) -> None:
    c, _ = client
    a = c.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "abc"})
    b = c.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "abc"})
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"] and b.json()["created"] is False
    assert len(c.get("/v1/jobs").json()["jobs"]) == 1
    conflict = c.post("/v1/jobs", json={**BODY, "output": "s3://unit-output/other"}, headers={"Idempotency-Key": "abc"})
    assert conflict.status_code == 409 and "abc" in conflict.json()["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"output": BODY["output"]}, "input"),
        ({**BODY, "input": "http://x/y"}, "s3://"),
        ({**BODY, "input": "s3://A_bad_bucket/x"}, "bucket"),
        ({**BODY, "output": ""}, "output"),
        ({**BODY, "options": {"device": "tpu"}}, "device"),
        ({**BODY, "options": {"max_image_size": 10}}, "max_image_size"),
        ({**BODY, "options": {"unknown": 1}}, "unknown"),
        ({**BODY, "extra": True}, "extra"),
        ([1, 2], "body"),
    ],
)
def test_invalid_requests_get_422_with_a_message(client, body, needle: str) -> None:
    c, _ = client
    r = c.post("/v1/jobs", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"
    assert needle in r.text


def test_malformed_json_and_unknown_ids_are_4xx(client) -> None:
    c, _ = client
    r = c.post("/v1/jobs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert c.get("/v1/jobs/nope").status_code == 404
    assert c.post("/v1/jobs/nope/cancel").status_code == 404
    assert c.get("/v1/jobs?state=bogus").status_code == 400
    assert c.get("/nowhere").status_code == 404
    assert c.delete("/v1/jobs").status_code == 405


def test_metrics_move_when_jobs_are_submitted_and_cancelled(client) -> None:
    c, _ = client
    before = c.get("/metrics").text
    assert "e2e3d_jobs_submitted_total 0.0" in before
    job_id = c.post("/v1/jobs", json=BODY).json()["id"]
    mid = c.get("/metrics").text
    assert "e2e3d_jobs_submitted_total 1.0" in mid and 'e2e3d_jobs{state="queued"} 1.0' in mid
    c.post(f"/v1/jobs/{job_id}/cancel")
    after = c.get("/metrics").text
    assert 'e2e3d_jobs{state="queued"} 0.0' in after and 'e2e3d_jobs{state="cancelled"} 1.0' in after


def test_health_and_ready(client) -> None:
    c, manager = client
    assert c.get("/healthz").json() == {"status": "alive"}
    r = c.get("/readyz")
    assert r.status_code == 503 and "supervisors" in r.text  # lifecycle not started: no supervisors
    manager.start()
    try:
        assert c.get("/readyz").json() == {"status": "ready"}
    finally:
        manager.stop()


def test_readyz_reports_an_unreachable_store(tmp_path: Path) -> None:
    store = ObjectStore("http://127.0.0.1:9", "k", "s")
    manager = JobManager(JobStore(tmp_path), store, Metrics(), concurrency=1, timeout_s=60, max_attempts=1)
    with TestClient(create_app(manager, store)) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert "cannot be reached" in r.text

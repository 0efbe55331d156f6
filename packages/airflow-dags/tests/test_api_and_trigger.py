"""Submit and wait tasks against real HTTP.

The reconstruction API here is tests/reconstruction_api_standin.py, a local HTTP server standing in for the
real service (which the integration suites exercise); the client, trigger and operator under test are real.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from e2e3d_lib.api import IDEMPOTENCY_HEADER, ReconstructionApi
from e2e3d_lib.errors import ApiRejectedError, JobFailedError, PermanentError, TransientApiError
from e2e3d_lib.operators import WaitForReconstructionJobOperator, job_from_event
from e2e3d_lib.triggers import ReconstructionJobTrigger
from tests.reconstruction_api_standin import job_error

INPUT, OUTPUT = "s3://in/scans/chair/", "s3://out/chair/"


def submit(api, key: str = "manual__2026-01-01T00:00:00+00:00", options: dict | None = None) -> dict:
    with ReconstructionApi(api.url) as client:
        return client.submit(INPUT, OUTPUT, options or {"max_image_size": 256}, idempotency_key=key)


def run_trigger(trigger: ReconstructionJobTrigger) -> list[dict]:
    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout=60))


def test_submit_sends_body_and_idempotency_key(api):
    job = submit(api, key="run-1")
    assert job["state"] == "queued" and job["id"]
    request = api.state.requests[-1]
    assert request["headers"][IDEMPOTENCY_HEADER] == "run-1"
    assert json.loads(request["raw"]) == {
        "input": INPUT,
        "output": OUTPUT,
        "options": {"max_image_size": 256},
        "idempotency_key": "run-1",
    }


def test_a_retried_submit_returns_the_first_job(api):
    first = submit(api, key="run-2")
    second = submit(api, key="run-2")
    assert second["id"] == first["id"]
    assert len(api.state.jobs) == 1


def test_5xx_is_transient(api):
    api.state.faults = [503]
    with pytest.raises(TransientApiError, match="HTTP 503") as info:
        submit(api)
    assert not isinstance(info.value, AirflowFailException)
    assert submit(api)["id"]  # and the retry succeeds


def test_4xx_is_permanent(api):
    api.state.faults = [422]
    with pytest.raises(ApiRejectedError, match="HTTP 422") as info:
        submit(api)
    assert isinstance(info.value, AirflowFailException)  # Airflow fails the task without retrying


def test_connection_refused_is_transient(refused_url):
    with ReconstructionApi(refused_url) as client, pytest.raises(TransientApiError):
        client.submit(INPUT, OUTPUT, {}, idempotency_key="k")


def test_trigger_follows_the_job_to_success(api):
    job = submit(api)
    events = run_trigger(ReconstructionJobTrigger(api.url, job["id"], poll_interval=0.01))
    assert len(events) == 1 and events[0]["status"] == "done"
    assert events[0]["job"]["state"] == "succeeded"
    assert job_from_event(events[0], job["id"])["stage_seconds"] == {"sfm": 1.5, "dense": 2.0}
    polls = [r for r in api.state.requests if r["method"] == "GET"]
    assert len(polls) == 4  # queued, running, running, succeeded


def test_a_failed_job_fails_the_task_for_good(api):
    failed = {"state": "failed", "stage": "sfm", "error": job_error("too_few_registered", "only 2 images registered")}
    api.state.script = [{"state": "running"}, failed]
    job = submit(api)
    events = run_trigger(ReconstructionJobTrigger(api.url, job["id"], poll_interval=0.01))
    with pytest.raises(JobFailedError, match="ended failed at stage 'sfm': .*only 2 images registered"):
        job_from_event(events[0], job["id"])


def test_trigger_rides_out_transient_errors(api):
    job = submit(api)
    api.state.faults = [502, 503]
    events = run_trigger(ReconstructionJobTrigger(api.url, job["id"], poll_interval=0.01))
    assert events[0]["status"] == "done" and events[0]["job"]["state"] == "succeeded"


def test_trigger_gives_up_retriably_when_the_api_stays_down(refused_url):
    trigger = ReconstructionJobTrigger(refused_url, "j1", poll_interval=0.01, max_consecutive_errors=3)
    [event] = run_trigger(trigger)
    assert event["status"] == "error" and event["permanent"] is False
    with pytest.raises(TransientApiError, match="unreachable for 3 polls"):
        job_from_event(event, "j1")


def test_trigger_reports_an_unknown_job_as_permanent(api):
    [event] = run_trigger(ReconstructionJobTrigger(api.url, "does-not-exist", poll_interval=0.01))
    assert event == {"status": "error", "permanent": True, "message": event["message"]}
    assert "HTTP 404" in event["message"]
    with pytest.raises(PermanentError):
        job_from_event(event, "does-not-exist")


def test_trigger_times_out_with_a_clear_message(api):
    api.state.script = [{"state": "running", "stage": "dense"}]
    job = submit(api)
    [event] = run_trigger(ReconstructionJobTrigger(api.url, job["id"], poll_interval=0.05, timeout_s=0.3))
    assert event["permanent"] is True and "not finished after" in event["message"]


def test_trigger_serializes_for_the_triggerer():
    trigger = ReconstructionJobTrigger("http://api:8000", "j1", {"Authorization": "Bearer t"}, 5, 7, 60)
    path, kwargs = trigger.serialize()
    assert path == "e2e3d_lib.triggers.ReconstructionJobTrigger"
    assert ReconstructionJobTrigger(**kwargs).serialize() == (path, kwargs)


def test_operator_defers_using_the_connection(api, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_E2E3D_RECONSTRUCTION_API",
        json.dumps({"conn_type": "http", "host": api.url, "password": "api-token-123"}),
    )
    operator = WaitForReconstructionJobOperator(task_id="wait", job_id="j1", poll_interval=3)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({"params": {"wait_timeout_minutes": 30}})
    trigger = deferred.value.trigger
    assert isinstance(trigger, ReconstructionJobTrigger)
    assert (trigger.base_url, trigger.job_id, trigger.timeout_s) == (api.url, "j1", 1800.0)
    assert trigger.headers == {"Authorization": "Bearer api-token-123"}
    assert deferred.value.timeout == timedelta(minutes=35)  # backstop after the trigger's own timeout
    assert deferred.value.method_name == "execute_complete"


def test_operator_without_connection_fails_with_how_to_fix(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_E2E3D_RECONSTRUCTION_API", raising=False)
    operator = WaitForReconstructionJobOperator(task_id="wait", job_id="j1")
    with pytest.raises(AirflowFailException, match="AIRFLOW_CONN_E2E3D_RECONSTRUCTION_API"):
        operator.execute({"params": {}})

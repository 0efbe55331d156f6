"""The reconstruction API stand-in answers as the real service's exported contract says it does.

packages/reconstruction/api-contract.json is generated from the service (its own test fails when the file is
stale); this test fails when the stand-in stops matching it: stage names, error model, status codes, accepted
request fields and options, job document fields.
"""

from __future__ import annotations

import httpx
import pytest

from tests.reconstruction_api_standin import (
    CONTRACT,
    JOB_FIELDS,
    OPTION_FIELDS,
    REQUEST_FIELDS,
    STAGES,
    STATUS,
    ReconstructionApiStandIn,
    check_step,
    job_error,
)

BODY = {"input": "s3://in/set", "output": "s3://out/set"}
KEY = {"Idempotency-Key": "k1"}


@pytest.fixture
def standin():
    server = ReconstructionApiStandIn()
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            yield server, client
    finally:
        server.stop()


def test_the_standin_uses_the_contract_vocabulary():
    assert CONTRACT["stages"] == ["download", "validate", "sfm", "dense", "export", "upload"] == list(STAGES)
    assert {"input", "output", "options", "idempotency_key"} == REQUEST_FIELDS
    assert "device" in OPTION_FIELDS and "quality" not in OPTION_FIELDS
    for step in ReconstructionApiStandIn().state.script:
        check_step(step)


@pytest.mark.parametrize(
    "step",
    [
        {"state": "running", "stage": "meshing"},
        {"state": "done"},
        {"state": "failed", "error": "a bare string"},
        {"state": "succeeded", "timings": {}},
    ],
)
def test_a_script_outside_the_contract_is_refused(step):
    with pytest.raises(AssertionError):
        check_step(step)


def test_submit_replay_and_get_answer_the_contract_status_codes(standin):
    _server, c = standin
    first = c.post("/v1/jobs", json=BODY, headers=KEY)
    assert first.status_code == STATUS["submit_created"] == 202
    assert sorted(first.json()) == CONTRACT["submit_answer_fields"]
    replay = c.post("/v1/jobs", json=BODY, headers=KEY)
    assert replay.status_code == STATUS["submit_replay"] == 202
    assert replay.json()["id"] == first.json()["id"] and replay.json()["created"] is False
    conflict = c.post("/v1/jobs", json={**BODY, "output": "s3://out/other"}, headers=KEY)
    assert conflict.status_code == STATUS["submit_idempotency_conflict"]
    got = c.get(f"/v1/jobs/{first.json()['id']}")
    assert got.status_code == STATUS["get"] and sorted(got.json()) == sorted(JOB_FIELDS)
    missing = c.get("/v1/jobs/nope")
    assert missing.status_code == STATUS["get_not_found"]
    for answer in (conflict, missing):
        assert set(CONTRACT["error_model"]["required"]) <= set(answer.json())
        assert answer.json()["error"] in CONTRACT["error_model"]["codes"]


def test_idempotency_key_in_the_body_is_accepted(standin):
    _server, c = standin
    a = c.post("/v1/jobs", json={**BODY, "idempotency_key": "b1"})
    b = c.post("/v1/jobs", json={**BODY, "idempotency_key": "b1"})
    assert a.status_code == b.status_code == 202 and a.json()["id"] == b.json()["id"]


@pytest.mark.parametrize(
    "body",
    [
        {**BODY, "extra": True},
        {**BODY, "options": {"quality": "low"}},
        {**BODY, "options": {"device": "tpu"}},
        {"output": BODY["output"]},
        {**BODY, "input": "http://x/y"},
    ],
)
def test_requests_the_service_rejects_are_rejected_with_its_error_model(standin, body):
    _server, c = standin
    r = c.post("/v1/jobs", json=body, headers=KEY)
    assert r.status_code == STATUS["submit_invalid"] == 422
    assert r.json()["error"] == "invalid_request" and r.json()["message"]


def test_every_documented_option_is_accepted(standin):
    _server, c = standin
    options = {name: spec["default"] for name, spec in CONTRACT["options_schema"]["properties"].items()}
    r = c.post("/v1/jobs", json={**BODY, "options": options}, headers=KEY)
    assert r.status_code == 202


def test_job_error_has_the_contract_shape():
    assert set(job_error("x", "y")) == set(CONTRACT["job_error_model"]["required"])

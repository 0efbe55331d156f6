"""api-contract.json (what client test doubles are checked against) is current and true of the service."""

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from e2e3d_reconstruction import contract
from e2e3d_reconstruction.api import create_app
from e2e3d_reconstruction.jobs import JobManager, JobStore
from e2e3d_reconstruction.metrics import Metrics
from e2e3d_reconstruction.store import ObjectStore

PACKAGE = Path(__file__).resolve().parents[1]
SRC = PACKAGE / "src" / "e2e3d_reconstruction"
BODY = {"input": "s3://unit-input/set1", "output": "s3://unit-output/set1"}


def test_the_checked_in_contract_is_current() -> None:
    checked_in = (PACKAGE / "api-contract.json").read_text()
    assert checked_in == contract.render(), (
        "api-contract.json is stale; regenerate: tools/python/run packages/reconstruction "
        "python -m e2e3d_reconstruction.contract > packages/reconstruction/api-contract.json"
    )


def test_stages_are_exactly_the_ones_the_sources_report() -> None:
    emitted = set(re.findall(r'\bstage\("(\w+)"\)', (SRC / "pipeline.py").read_text()))
    emitted |= set(re.findall(r'(?:on_progress\(|stage=)"(\w+)"', (SRC / "worker.py").read_text()))
    assert emitted == set(contract.STAGES)


def test_status_codes_and_error_model_are_what_the_service_answers(tmp_path: Path, s3_server) -> None:
    store = ObjectStore(s3_server["endpoint"], s3_server["access_key"], s3_server["secret_key"])
    manager = JobManager(JobStore(tmp_path), store, Metrics(), concurrency=1, timeout_s=60, max_attempts=1)
    codes = contract.STATUS_CODES
    with TestClient(create_app(manager, store, manage_lifecycle=False)) as c:
        first = c.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "k"})
        assert first.status_code == codes["submit_created"]
        assert sorted(first.json()) == contract.export()["submit_answer_fields"]
        replay = c.post("/v1/jobs", json=BODY, headers={"Idempotency-Key": "k"})
        assert replay.status_code == codes["submit_replay"] and replay.json()["created"] is False
        other = {**BODY, "output": "s3://unit-output/other"}
        conflict = c.post("/v1/jobs", json=other, headers={"Idempotency-Key": "k"})
        assert conflict.status_code == codes["submit_idempotency_conflict"]
        invalid = c.post("/v1/jobs", json={**BODY, "options": {"unknown": 1}})
        assert invalid.status_code == codes["submit_invalid"]
        got = c.get(f"/v1/jobs/{first.json()['id']}")
        assert got.status_code == codes["get"] and sorted(got.json()) == contract.export()["job_fields"]
        missing = c.get("/v1/jobs/nope")
        assert missing.status_code == codes["get_not_found"]
        for answer in (conflict, invalid, missing):
            body = answer.json()
            assert set(contract.ERROR_MODEL["required"]) <= set(body), body
            assert body["error"] in contract.ERROR_MODEL["codes"]


def test_the_contract_file_is_valid_json_for_clients() -> None:
    data = json.loads((PACKAGE / "api-contract.json").read_text())
    assert data["stages"] == list(contract.STAGES)

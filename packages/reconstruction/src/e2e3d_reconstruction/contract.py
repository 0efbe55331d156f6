"""The API contract as data, exported to `api-contract.json` (checked in next to pyproject.toml).

Clients' test doubles (packages/airflow-dags/tests/reconstruction_api_standin.py) are checked against that file,
and tests/test_contract.py fails when the file is stale or when the service stops behaving as it says.
Regenerate (from the repository root):

    tools/python/run packages/reconstruction python -m e2e3d_reconstruction.contract \
        > packages/reconstruction/api-contract.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .jobs import STATES, TERMINAL, Job

# Every stage a job document's `stage` can name, in the order a job goes through them (worker.py: download,
# upload; pipeline.py: the rest). tests/test_contract.py checks the sources emit exactly these.
STAGES = ("download", "validate", "sfm", "dense", "export", "upload")

# Every JSON error answer of the API is {"error": <code>, "message": <text>, ...extra}.
ERROR_MODEL = {"required": ["error", "message"], "codes": ["invalid_request", "http_error", "not_found",
                                                           "idempotency_conflict", "not_cancellable"]}
# A failed job's `error` field.
JOB_ERROR_MODEL = {"required": ["code", "message"]}

STATUS_CODES = {
    "submit_created": 202,
    # A replay (same Idempotency-Key, same request) answers the first job with created=false, same status.
    "submit_replay": 202,
    "submit_idempotency_conflict": 409,
    "submit_invalid": 422,
    "get": 200,
    "get_not_found": 404,
}


def export() -> dict[str, Any]:
    from .api import create_app  # imports FastAPI; keep `contract` importable for the constants alone

    openapi = create_app(None, None, manage_lifecycle=False).openapi()  # type: ignore[arg-type]
    schemas = openapi["components"]["schemas"]
    return {
        "states": list(STATES),
        "terminal_states": sorted(TERMINAL),
        "stages": list(STAGES),
        "error_model": ERROR_MODEL,
        "job_error_model": JOB_ERROR_MODEL,
        "status_codes": STATUS_CODES,
        "idempotency_header": "Idempotency-Key",
        "submit_answer_fields": ["created", "id", "state"],
        "job_fields": sorted(Job("x", "s3://a/b", "s3://a/c", {}).public()),
        "request_schema": schemas["JobRequest"],
        "options_schema": schemas["JobOptions"],
        "paths": {path: sorted(ops) for path, ops in sorted(openapi["paths"].items())},
    }


def render() -> str:
    return json.dumps(export(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

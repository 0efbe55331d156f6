"""Client of the reconstruction service's HTTP API (POST /v1/jobs, GET /v1/jobs/{id}).

httpx is used because Airflow already depends on it and it has one API for the worker (sync) and the
triggerer (async). Every answer is classified once: 2xx → the JSON body, 4xx → ApiRejectedError (permanent),
5xx / connection problems / timeouts → TransientApiError (retried by the task, or by the trigger's poll loop).
"""

from __future__ import annotations

from typing import Any

import httpx

from e2e3d_lib.errors import ApiRejectedError, TransientApiError

TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
JOB_STATES = frozenset({"queued", "running"}) | TERMINAL_STATES
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TIMEOUT_S = 30.0


def _classify(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise TransientApiError(f"{what}: HTTP {response.status_code} {_detail(response)}", response.status_code)
    if response.status_code >= 400:
        raise ApiRejectedError(f"{what}: HTTP {response.status_code} {_detail(response)}", response.status_code)
    try:
        body = response.json()
    except ValueError as exc:
        raise TransientApiError(f"{what}: answer is not JSON: {response.text[:200]!r}", response.status_code) from exc
    if not isinstance(body, dict):
        raise TransientApiError(f"{what}: answer is not a JSON object: {body!r:.200}", response.status_code)
    return body


def _detail(response: httpx.Response) -> str:
    text = response.text.strip()
    return text[:300] if text else response.reason_phrase


def _transport_error(exc: httpx.HTTPError, what: str) -> TransientApiError:
    return TransientApiError(f"{what}: {type(exc).__name__}: {exc}")


def check_job(job: dict[str, Any], what: str) -> dict[str, Any]:
    """A job document must name its id and a known state; anything else is a broken API (transient)."""
    if not job.get("id") or job.get("state") not in JOB_STATES:
        raise TransientApiError(f"{what}: unexpected job document {job!r:.300}")
    return job


class ReconstructionApi:
    """Synchronous client used by worker tasks."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S):
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=timeout)

    def __enter__(self) -> ReconstructionApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def submit(self, input_uri: str, output_uri: str, options: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Start a job; the same idempotency key returns the job the first call started."""
        what = f"POST {self.base_url}/v1/jobs"
        body = {"input": input_uri, "output": output_uri, "options": options, "idempotency_key": idempotency_key}
        try:
            response = self._client.post("/v1/jobs", json=body, headers={IDEMPOTENCY_HEADER: idempotency_key})
        except httpx.HTTPError as exc:
            raise _transport_error(exc, what) from exc
        return check_job(_classify(response, what), what)

    def get(self, job_id: str) -> dict[str, Any]:
        what = f"GET {self.base_url}/v1/jobs/{job_id}"
        try:
            response = self._client.get(f"/v1/jobs/{job_id}")
        except httpx.HTTPError as exc:
            raise _transport_error(exc, what) from exc
        return check_job(_classify(response, what), what)


async def aget_job(client: httpx.AsyncClient, base_url: str, job_id: str) -> dict[str, Any]:
    """GET /v1/jobs/{id} from the triggerer's event loop."""
    what = f"GET {base_url}/v1/jobs/{job_id}"
    try:
        response = await client.get(f"/v1/jobs/{job_id}")
    except httpx.HTTPError as exc:
        raise _transport_error(exc, what) from exc
    return check_job(_classify(response, what), what)

"""A small HTTP server standing in for the reconstruction API in the task tests.

It is a test double on purpose: the real service is built by another package and exercised in the integration
suites; here the DAG's client and trigger talk real HTTP to a server whose answers (faults included) the test
controls. It is derived from the service's exported contract, packages/reconstruction/api-contract.json (stage
names, error shape {error, message}, status codes, accepted request fields and options), and
tests/test_standin_contract.py checks it against that file, so it cannot drift from the real API.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# In the repository the contract sits beside this package; the in-container stand-in (integration suite) gets it
# mounted and named by E2E3D_RECONSTRUCTION_API_CONTRACT.
CONTRACT_PATH = Path(
    os.environ.get("E2E3D_RECONSTRUCTION_API_CONTRACT")
    or Path(__file__).resolve().parents[2] / "reconstruction" / "api-contract.json"
)
CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
STAGES: tuple[str, ...] = tuple(CONTRACT["stages"])
STATUS = CONTRACT["status_codes"]
REQUEST_FIELDS = frozenset(CONTRACT["request_schema"]["properties"])
OPTION_FIELDS = frozenset(CONTRACT["options_schema"]["properties"])
JOB_FIELDS = tuple(CONTRACT["job_fields"])


def error_body(code: str, message: str) -> dict[str, Any]:
    """The service's error answer: {"error": <code>, "message": <text>}."""
    return {"error": code, "message": message}


def job_error(code: str, message: str) -> dict[str, str]:
    """A failed job's `error` field."""
    return {"code": code, "message": message}


@dataclass
class Job:
    id: str
    body: dict[str, Any]
    # States the job goes through, one per GET; the last one sticks.
    script: list[dict[str, Any]]
    polls: int = 0

    def view(self) -> dict[str, Any]:
        step = self.script[min(self.polls, len(self.script) - 1)]
        check_step(step)
        base: dict[str, Any] = dict.fromkeys(JOB_FIELDS)
        base.update(
            id=self.id, input=self.body.get("input"), output=self.body.get("output"),
            options=self.body.get("options") or {}, progress=0.0, message="", stage_seconds={}, attempts=0,
            summary={}, idempotency_key=self.body.get("idempotency_key"),
        )
        return {**base, **step}


def check_step(step: dict[str, Any]) -> None:
    """A scripted job document may only say what the real service can: a test using a drifted stage, state,
    field or error shape fails here instead of passing against an API that does not exist."""
    unknown = set(step) - set(JOB_FIELDS)
    assert not unknown, f"job fields {sorted(unknown)} are not in the API contract ({CONTRACT_PATH})"
    assert step.get("state") in CONTRACT["states"], f"state {step.get('state')!r} is not one of {CONTRACT['states']}"
    assert step.get("stage") in (None, *STAGES), f"stage {step.get('stage')!r} is not one of {STAGES}"
    error = step.get("error")
    if error is not None:
        required = set(CONTRACT["job_error_model"]["required"])
        assert isinstance(error, dict) and required <= set(error), f"job error {error!r} lacks {sorted(required)}"


@dataclass
class StandInState:
    jobs: dict[str, Job] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Status codes to answer the next requests with, before normal handling (fault injection).
    faults: list[int] = field(default_factory=list)
    script: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"state": "queued"},
            {"state": "running", "stage": "sfm", "progress": 0.3},
            {"state": "running", "stage": "dense", "progress": 0.8},
            {"state": "succeeded", "stage": "upload", "progress": 1.0, "stage_seconds": {"sfm": 1.5, "dense": 2.0}},
        ]
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with the request body when a new job is accepted (a test writes the job's outputs there).
    on_submit: Callable[[dict[str, Any]], None] | None = None


class _Handler(BaseHTTPRequestHandler):
    state: StandInState

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: dict[str, Any] | str) -> None:
        payload = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _fault(self) -> bool:
        if self.state.faults:
            status = self.state.faults.pop(0)
            self._send(status, error_body("injected", f"injected {status}"))
            return True
        return False

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        with self.state.lock:
            self.state.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "raw": raw})
            if self._fault():
                return
            if self.path != "/v1/jobs":
                self._send(404, error_body("http_error", "Not Found"))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(STATUS["submit_invalid"], error_body("invalid_request", "body: JSON decode error"))
                return
            problem = request_problem(body)
            if problem:
                self._send(STATUS["submit_invalid"], error_body("invalid_request", problem))
                return
            key = self.headers.get(CONTRACT["idempotency_header"]) or body.get("idempotency_key")
            if key in self.state.by_key:
                job = self.state.jobs[self.state.by_key[key]]
                if {k: v for k, v in job.body.items() if k != "idempotency_key"} != {
                    k: v for k, v in body.items() if k != "idempotency_key"
                }:
                    self._send(
                        STATUS["submit_idempotency_conflict"],
                        error_body("idempotency_conflict", f"idempotency key {key} was used for another request"),
                    )
                    return
                self._send(STATUS["submit_replay"], {"id": job.id, "state": job.view()["state"], "created": False})
                return
            job = Job(id=uuid.uuid4().hex, body=body, script=list(self.state.script))
            self.state.jobs[job.id] = job
            if key:
                self.state.by_key[key] = job.id
            if self.state.on_submit:
                self.state.on_submit(body)
            self._send(STATUS["submit_created"], {"id": job.id, "state": job.view()["state"], "created": True})

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
            if self._fault():
                return
            job = self.state.jobs.get(self.path.removeprefix("/v1/jobs/"))
            if not self.path.startswith("/v1/jobs/") or job is None:
                self._send(STATUS["get_not_found"], error_body("not_found", f"no job at {self.path}"))
                return
            view = job.view()
            job.polls += 1
            self._send(STATUS["get"], view)


def request_problem(body: Any) -> str | None:
    """What the service would reject with 422 (fields and options outside its schema), or None."""
    if not isinstance(body, dict):
        return "body: Input should be a valid dictionary"
    unknown = set(body) - REQUEST_FIELDS
    if unknown:
        return f"{sorted(unknown)[0]}: Extra inputs are not permitted"
    for name in CONTRACT["request_schema"]["required"]:
        if name not in body:
            return f"{name}: Field required"
    for name in ("input", "output"):
        if not str(body[name]).startswith("s3://"):
            return f"{name}: Value error, {name} must be an s3:// URL"
    options = body.get("options") or {}
    if not isinstance(options, dict):
        return "options: Input should be a valid dictionary"
    bad = set(options) - OPTION_FIELDS
    if bad:
        return f"options.{sorted(bad)[0]}: Extra inputs are not permitted"
    device = CONTRACT["options_schema"]["properties"]["device"]["enum"]
    if "device" in options and options["device"] not in device:
        return f"options.device: Input should be one of {device}"
    return None


class ReconstructionApiStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = StandInState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

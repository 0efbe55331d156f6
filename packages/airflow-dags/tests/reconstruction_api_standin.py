"""A small HTTP server standing in for the reconstruction API in the task tests.

It is a test double on purpose: the real service is built by another package and exercised in the integration
suites; here the DAG's client and trigger talk real HTTP to a server whose answers (faults included) the test
controls. It follows the API contract: POST /v1/jobs {input, output, options} with an Idempotency-Key header
→ 202 {id, state}; GET /v1/jobs/{id} → {id, state, stage, progress, error}.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Job:
    id: str
    body: dict[str, Any]
    # States the job goes through, one per GET; the last one sticks.
    script: list[dict[str, Any]]
    polls: int = 0

    def view(self) -> dict[str, Any]:
        step = self.script[min(self.polls, len(self.script) - 1)]
        return {"id": self.id, "stage": None, "progress": 0.0, "error": None, **step}


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
            {"state": "running", "stage": "features", "progress": 0.3},
            {"state": "running", "stage": "meshing", "progress": 0.8},
            {"state": "succeeded", "stage": "done", "progress": 1.0, "timings": {"sparse": 1.5, "mesh": 2.0}},
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
            self._send(status, {"detail": f"injected {status}"})
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
                self._send(404, {"detail": "not found"})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, {"detail": "body is not JSON"})
                return
            key = self.headers.get("Idempotency-Key")
            if not key or not str(body.get("input", "")).startswith("s3://"):
                self._send(422, {"detail": "Idempotency-Key header and an s3:// input are required"})
                return
            if key in self.state.by_key:
                self._send(200, self.state.jobs[self.state.by_key[key]].view())
                return
            job = Job(id=uuid.uuid4().hex, body=body, script=list(self.state.script))
            self.state.jobs[job.id] = job
            self.state.by_key[key] = job.id
            if self.state.on_submit:
                self.state.on_submit(body)
            self._send(202, job.view())

    def do_GET(self) -> None:
        with self.state.lock:
            self.state.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
            if self._fault():
                return
            job = self.state.jobs.get(self.path.removeprefix("/v1/jobs/"))
            if not self.path.startswith("/v1/jobs/") or job is None:
                self._send(404, {"detail": f"no job at {self.path}"})
                return
            view = job.view()
            job.polls += 1
            self._send(200, view)


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

"""Durable jobs: a state machine persisted as one JSON file per job on a volume, run by a bounded pool of
supervisor threads, each driving one worker subprocess (so cancellation and timeouts can stop COLMAP and
torch for certain: the whole process group is killed).

On start, a job found `running` (the service died under it) is re-queued while it has attempts left and
marked failed with the reason otherwise: nothing stays `running` forever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .metrics import Metrics
from .store import ObjectStore, S3Location

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = {"succeeded", "failed", "cancelled"}
TRANSITIONS = {
    "queued": {"running", "cancelled", "failed"},
    "running": {"succeeded", "failed", "cancelled", "queued"},
    "succeeded": set(),
    "failed": set(),
    "cancelled": set(),
}


class InvalidTransition(Exception):
    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(f"job {job_id} cannot go from {current} to {target}")
        self.current = current


class IdempotencyConflict(Exception):
    pass


class JobNotFound(Exception):
    pass


def _now() -> float:
    return round(time.time(), 3)


@dataclass
class Job:
    id: str
    input: str
    output: str
    options: dict[str, Any]
    idempotency_key: str | None = None
    fingerprint: str = ""
    state: str = "queued"
    stage: str | None = None
    progress: float = 0.0
    message: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    error: dict[str, str] | None = None
    attempts: int = 0
    device: str | None = None
    worker_pid: int | None = None
    cancel_requested: bool = False
    created_at: float = field(default_factory=_now)
    started_at: float | None = None
    finished_at: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def transition(self, target: str) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidTransition(self.id, self.state, target)
        self.state = target

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        for private in ("fingerprint", "worker_pid", "cancel_requested"):
            data.pop(private)
        return data


def fingerprint(input_url: str, output_url: str, options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([input_url, output_url, options], sort_keys=True).encode()).hexdigest()


class JobStore:
    """One `<state_dir>/jobs/<id>/job.json` per job, replaced atomically on every change."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)

    def dir(self, job_id: str) -> Path:
        return self.root / job_id

    def save(self, job: Job) -> None:
        d = self.dir(job.id)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "job.json.tmp"
        tmp.write_text(json.dumps(asdict(job), indent=1))
        os.replace(tmp, d / "job.json")

    def load_all(self) -> list[Job]:
        jobs = []
        for path in sorted(self.root.glob("*/job.json")):
            jobs.append(Job(**json.loads(path.read_text())))
        return sorted(jobs, key=lambda j: j.created_at)


class JobManager:
    def __init__(
        self,
        store: JobStore,
        object_store: ObjectStore,
        metrics: Metrics,
        concurrency: int,
        timeout_s: float,
        max_attempts: int,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.object_store = object_store
        self.metrics = metrics
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.worker_env = worker_env
        self.jobs: dict[str, Job] = {}
        self.by_key: dict[str, str] = {}
        self.lock = threading.RLock()
        self.pending: queue.Queue[str | None] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        for job in self.store.load_all():
            self.jobs[job.id] = job
            if job.idempotency_key:
                self.by_key[job.idempotency_key] = job.id
            if job.state == "running":
                self._recover_interrupted(job)
        for job in self.jobs.values():
            if job.state == "queued":
                self.pending.put(job.id)
        self._refresh_state_gauge()
        for i in range(self.concurrency):
            t = threading.Thread(target=self._loop, name=f"job-supervisor-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for _ in self.threads:
            self.pending.put(None)
        with self.lock:
            running = [j for j in self.jobs.values() if j.state == "running" and j.worker_pid]
        for job in running:
            _kill_group(job.worker_pid)
        for t in self.threads:
            t.join(timeout=15)

    def workers_alive(self) -> bool:
        return bool(self.threads) and all(t.is_alive() for t in self.threads)

    def _recover_interrupted(self, job: Job) -> None:
        if job.worker_pid and _is_worker(job.worker_pid, job.id):
            _kill_group(job.worker_pid)  # an orphaned worker of the previous service process
        job.worker_pid = None
        where = f" during {job.stage}" if job.stage else ""
        if job.attempts < self.max_attempts and not job.cancel_requested:
            job.transition("queued")
            job.message = (
                f"interrupted by a service restart{where}; retrying (attempt {job.attempts + 1} of {self.max_attempts})"
            )
        elif job.cancel_requested:
            job.transition("cancelled")
            job.finished_at = _now()
        else:
            job.transition("failed")
            job.error = {
                "code": "interrupted",
                "message": f"interrupted by a service restart{where} after {job.attempts} attempt(s)",
            }
            job.finished_at = _now()
            self.metrics.failures.labels(reason="interrupted").inc()
        self.store.save(job)

    # -- API operations ----------------------------------------------------------------------------------
    def submit(self, input_url: str, output_url: str, options: dict[str, Any], key: str | None) -> tuple[Job, bool]:
        """Returns (job, created). A known idempotency key returns its job; a different request with it is refused."""
        fp = fingerprint(input_url, output_url, options)
        with self.lock:
            if key and key in self.by_key:
                job = self.jobs[self.by_key[key]]
                if job.fingerprint != fp:
                    raise IdempotencyConflict(
                        f"idempotency key {key!r} was already used for job {job.id} with a different request"
                    )
                return job, False
            job = Job(
                id=uuid.uuid4().hex,
                input=input_url,
                output=output_url,
                options=options,
                idempotency_key=key,
                fingerprint=fp,
            )
            self.jobs[job.id] = job
            if key:
                self.by_key[key] = job.id
            self.store.save(job)
            self.metrics.submitted.inc()
            self._refresh_state_gauge()
        self.pending.put(job.id)
        return job, True

    def get(self, job_id: str) -> Job:
        with self.lock:
            if job_id not in self.jobs:
                raise JobNotFound(job_id)
            return self.jobs[job_id]

    def list(self, state: str | None = None) -> list[Job]:
        with self.lock:
            return [j for j in self.jobs.values() if state is None or j.state == state]

    def cancel(self, job_id: str) -> Job:
        with self.lock:
            job = self.get(job_id)
            if job.state in TERMINAL:
                raise InvalidTransition(job.id, job.state, "cancelled")
            job.cancel_requested = True
            if job.state == "queued":
                job.transition("cancelled")
                job.finished_at = _now()
                job.message = "cancelled before it started"
            self.store.save(job)
            self._refresh_state_gauge()
            return job

    # -- execution ----------------------------------------------------------------------------------------
    def _refresh_state_gauge(self) -> None:
        with self.lock:
            counts = dict.fromkeys(STATES, 0)
            for j in self.jobs.values():
                counts[j.state] += 1
        for state, n in counts.items():
            self.metrics.jobs.labels(state=state).set(n)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            job_id = self.pending.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception as exc:  # a supervisor bug must not kill the pool or leave a job running
                with self.lock:
                    job = self.jobs[job_id]
                    if job.state == "running":
                        self._finish(
                            job, "failed", {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
                        )

    def _run(self, job_id: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if job.state != "queued":
                return
            job.transition("running")
            job.attempts += 1
            job.started_at = _now()
            job.error = None
            job.stage, job.progress, job.stage_seconds = None, 0.0, {}
            self.store.save(job)
            self._refresh_state_gauge()
        job_dir = self.store.dir(job.id)
        for stale in ("progress.json", "result.json"):
            (job_dir / stale).unlink(missing_ok=True)
        (job_dir / "request.json").write_text(
            json.dumps({"input": job.input, "output": job.output, "options": job.options})
        )
        with (job_dir / "worker.log").open("a") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "e2e3d_reconstruction.worker", str(job_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill reaches COLMAP too
                env=self.worker_env,
            )
        with self.lock:
            job.worker_pid = proc.pid
            self.store.save(job)
        deadline = time.monotonic() + self.timeout_s
        seen_stages: set[str] = set()
        outcome: tuple[str, dict[str, str] | None] | None = None
        while proc.poll() is None:
            time.sleep(0.3)
            self._read_progress(job, job_dir, seen_stages)
            if job.cancel_requested:
                _kill_group(proc.pid, proc)
                outcome = ("cancelled", None)
            elif time.monotonic() > deadline:
                _kill_group(proc.pid, proc)
                outcome = (
                    "failed",
                    {"code": "timeout", "message": f"the job ran longer than its {self.timeout_s:.0f}s limit"},
                )
            elif self.stopping.is_set():
                return  # service shutdown: the job stays running on disk and is recovered at the next start
        proc.wait()
        self._read_progress(job, job_dir, seen_stages)
        if outcome is None:
            outcome = self._read_result(job, job_dir, proc.returncode)
        if outcome[0] != "succeeded":
            self._write_failure_report(job, outcome)
        with self.lock:
            self._finish(job, *outcome)

    def _finish(self, job: Job, state: str, error: dict[str, str] | None) -> None:
        job.transition(state)
        job.error = error
        job.finished_at = _now()
        job.worker_pid = None
        if state == "failed" and error:
            self.metrics.failures.labels(reason=error["code"]).inc()
        if state == "cancelled":
            job.message = "cancelled"
        self.store.save(job)
        self._refresh_state_gauge()

    def _read_progress(self, job: Job, job_dir: Path, seen: set[str]) -> None:
        try:
            data = json.loads((job_dir / "progress.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return
        with self.lock:
            job.stage, job.progress, job.message = data.get("stage"), data.get("progress", 0.0), data.get("message", "")
            job.stage_seconds = data.get("stage_seconds", {})
            if data.get("device") and job.device != data["device"]:
                job.device = data["device"]
                self.metrics.dense_runs.labels(device=job.device).inc()
            self.store.save(job)
        for stage, seconds in job.stage_seconds.items():
            if stage not in seen:
                seen.add(stage)
                self.metrics.stage_seconds.labels(stage=stage).observe(seconds)

    def _read_result(self, job: Job, job_dir: Path, code: int) -> tuple[str, dict[str, str] | None]:
        try:
            result = json.loads((job_dir / "result.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            tail = (job_dir / "worker.log").read_text(errors="replace").splitlines()[-5:]
            return "failed", {
                "code": "worker_crashed",
                "message": f"the worker exited with {code}: " + " | ".join(tail),
            }
        with self.lock:
            job.summary = result.get("summary", {})
        if job.summary.get("input_images"):
            self.metrics.images.inc(job.summary["input_images"])
        if result.get("ok"):
            return "succeeded", None
        return "failed", {"code": result.get("code", "unknown"), "message": result.get("message", "")}

    def _write_failure_report(self, job: Job, outcome: tuple[str, dict[str, str] | None]) -> None:
        """Cancel and timeout kill the worker before it can report: write report.json for it (no marker)."""
        if outcome[0] == "failed" and outcome[1] and outcome[1]["code"] not in ("timeout", "worker_crashed"):
            return  # the worker wrote its own report
        state, error = outcome
        report = {
            "job_id": job.id,
            "status": state,
            "reason": (error or {}).get("code", state),
            "message": (error or {}).get("message", "cancelled"),
            "stage": job.stage,
        }
        with contextlib.suppress(Exception):  # the store may be what failed; the job state still says why
            self.object_store.put_json(S3Location.parse(job.output), "report.json", report)


def _kill_group(pid: int | None, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM the worker's process group, then SIGKILL what is left after 5 s."""
    if not pid:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
                return
        else:
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    return
                time.sleep(0.1)


def _is_worker(pid: int, job_id: str) -> bool:
    try:
        return job_id in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False

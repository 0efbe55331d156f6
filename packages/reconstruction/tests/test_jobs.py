"""The job state machine and its persistence (no worker processes run here)."""

from pathlib import Path

import pytest

from e2e3d_reconstruction.jobs import IdempotencyConflict, InvalidTransition, Job, JobManager, JobStore
from e2e3d_reconstruction.metrics import Metrics
from e2e3d_reconstruction.store import ObjectStore


def _job(**kw) -> Job:
    return Job(id="j1", input="s3://in/a", output="s3://out/a", options={}, **kw)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        (["running", "succeeded"], True),
        (["running", "failed"], True),
        (["running", "cancelled"], True),
        (["cancelled"], True),
        (["running", "queued", "running", "succeeded"], True),  # retry after a restart
        (["succeeded"], False),
        (["running", "succeeded", "running"], False),
        (["cancelled", "running"], False),
        (["failed", "queued"], False),
    ],
)
def test_transitions(path: list[str], ok: bool) -> None:
    job = _job()
    if ok:
        for state in path:
            job.transition(state)
        assert job.state == path[-1]
    else:
        with pytest.raises(InvalidTransition):
            for state in path:
                job.transition(state)


def _manager(state_dir: Path, attempts: int = 2) -> JobManager:
    # The object store is never contacted in these tests (no job runs); any endpoint will do.
    store = ObjectStore("http://127.0.0.1:9", "k", "s")
    return JobManager(JobStore(state_dir), store, Metrics(), concurrency=1, timeout_s=60, max_attempts=attempts)


def test_jobs_persist_and_idempotency_survives_a_restart(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    job, created = m.submit("s3://in/a", "s3://out/a", {"device": "cpu"}, "key-1")
    again, created_again = m.submit("s3://in/a", "s3://out/a", {"device": "cpu"}, "key-1")
    assert created and not created_again and again.id == job.id
    with pytest.raises(IdempotencyConflict):
        m.submit("s3://in/b", "s3://out/a", {"device": "cpu"}, "key-1")
    fresh = _manager(tmp_path)
    fresh.jobs = {j.id: j for j in fresh.store.load_all()}
    fresh.by_key = {j.idempotency_key: j.id for j in fresh.jobs.values() if j.idempotency_key}
    same, created3 = fresh.submit("s3://in/a", "s3://out/a", {"device": "cpu"}, "key-1")
    assert same.id == job.id and not created3


def _interrupted(tmp_path: Path, attempts: int) -> Job:
    store = JobStore(tmp_path)
    job = _job(attempts=attempts, stage="dense")
    job.transition("running")
    store.save(job)
    return job


def test_interrupted_job_is_requeued_while_attempts_remain(tmp_path: Path) -> None:
    _interrupted(tmp_path, attempts=1)
    m = _manager(tmp_path, attempts=2)
    m.concurrency = 0  # recover only; run nothing
    m.start()
    job = m.get("j1")
    assert job.state == "queued"
    assert "interrupted by a service restart during dense" in job.message
    assert JobStore(tmp_path).load_all()[0].state == "queued"


def test_interrupted_job_fails_with_reason_when_attempts_are_spent(tmp_path: Path) -> None:
    _interrupted(tmp_path, attempts=2)
    m = _manager(tmp_path, attempts=2)
    m.concurrency = 0
    m.start()
    job = m.get("j1")
    assert job.state == "failed"
    assert job.error and job.error["code"] == "interrupted"
    assert 'e2e3d_job_failures_total{reason="interrupted"} 1.0' in _metrics_text(m)


def test_cancel_queued_job_and_refuse_cancelling_finished_one(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    job, _ = m.submit("s3://in/a", "s3://out/a", {}, None)
    assert m.cancel(job.id).state == "cancelled"
    with pytest.raises(InvalidTransition):
        m.cancel(job.id)


def _metrics_text(m: JobManager) -> str:
    from prometheus_client import generate_latest

    return generate_latest(m.metrics.registry).decode()

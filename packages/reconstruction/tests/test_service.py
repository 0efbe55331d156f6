"""Jobs run for real (worker subprocesses, COLMAP) against moto's in-process S3 server: every bad-input case,
cancellation, the per-job timeout and a restart in the middle of a job (held on a proxy that does not answer the
job's input reads until released, so the job is provably running when the test acts)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from prometheus_client import generate_latest

from conftest import process_group_alive
from e2e3d_reconstruction import synthetic
from e2e3d_reconstruction.jobs import Job, JobManager, JobStore
from e2e3d_reconstruction.metrics import Metrics
from e2e3d_reconstruction.store import ObjectStore
from holding_proxy import HoldingProxy, holding_proxy, reads_of


@pytest.fixture(scope="session")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eight synthetic views (no supersampling): real JPEGs for inputs; no test here depends on how long SfM takes."""
    out = tmp_path_factory.mktemp("small")
    scene = synthetic.make_scene(8)
    paths = []
    for cam in scene.cameras:
        rgb = synthetic.render(scene, cam, supersample=1)
        path = out / cam.name
        Image.fromarray((rgb * 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def _manager(
    env: dict[str, str], timeout_s: float = 120, attempts: int = 1, metrics: Metrics | None = None
) -> JobManager:
    store = ObjectStore(env["E2E3D_S3_ENDPOINT"], env["E2E3D_S3_ACCESS_KEY"], env["E2E3D_S3_SECRET_KEY"])
    store.ensure_buckets(("unit-input", "unit-output"))
    return JobManager(JobStore(Path(env["E2E3D_STATE_DIR"])), store, metrics or Metrics(), 1, timeout_s, attempts)


def _upload(s3_client, prefix: str, files: dict[str, bytes]) -> str:
    for name, body in files.items():
        s3_client.put_object(Bucket="unit-input", Key=f"{prefix}/{name}", Body=body)
    return f"s3://unit-input/{prefix}"


def _wait(manager: JobManager, job: Job, states: set[str], timeout: float = 120, stage: str | None = None) -> Job:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        j = manager.get(job.id)
        if j.state in states and (stage is None or j.stage == stage):
            return j
        time.sleep(0.2)
    raise AssertionError(f"job stayed {manager.get(job.id).state} at stage {manager.get(job.id).stage}")


def _outputs(s3_client, prefix: str) -> dict[str, bytes]:
    listed = s3_client.list_objects_v2(Bucket="unit-output", Prefix=f"{prefix}/").get("Contents", [])
    return {
        o["Key"].split("/")[-1]: s3_client.get_object(Bucket="unit-output", Key=o["Key"])["Body"].read() for o in listed
    }


def _jpeg(seed: int) -> bytes:
    noise = np.random.default_rng(seed).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="JPEG")
    return buf.getvalue()


def _run_failing(
    s3_env, s3_client, prefix, files: dict[str, bytes] | None, expected: str, input_url: str | None = None
):
    manager = _manager(s3_env)
    manager.start()
    try:
        url = input_url or _upload(s3_client, prefix, files or {})
        job, _ = manager.submit(url, f"s3://unit-output/{prefix}", {"device": "cpu"}, None)
        done = _wait(manager, job, {"succeeded", "failed", "cancelled"})
    finally:
        manager.stop()
    assert done.state == "failed", done
    assert done.error["code"] == expected, done.error
    out = _outputs(s3_client, prefix)
    assert "_SUCCESS" not in out
    assert b'"reason": "' + expected.encode() in out["report.json"]
    text = generate_latest(manager.metrics.registry).decode()
    assert f'e2e3d_job_failures_total{{reason="{expected}"}} 1.0' in text
    return done


def test_empty_prefix_fails_with_no_images(s3_env, s3_client, prefix) -> None:
    done = _run_failing(s3_env, s3_client, prefix, {}, "no_images")
    assert "no .jpg" in done.error["message"]


def test_fewer_than_three_images(s3_env, s3_client, prefix, small_set) -> None:
    files = {p.name: p.read_bytes() for p in small_set[:2]}
    done = _run_failing(s3_env, s3_client, prefix, files, "too_few_images")
    assert "2 image(s)" in done.error["message"]


def test_corrupt_jpeg_is_named(s3_env, s3_client, prefix, small_set) -> None:
    files = {p.name: p.read_bytes() for p in small_set[:4]}
    files["broken.jpg"] = small_set[4].read_bytes()[:3000]  # truncated mid-scan
    done = _run_failing(s3_env, s3_client, prefix, files, "corrupt_image")
    assert "broken.jpg" in done.error["message"]


def test_unrelated_images_cannot_be_registered(s3_env, s3_client, prefix) -> None:
    files = {f"noise_{i}.jpg": _jpeg(i) for i in range(5)}
    manager = _manager(s3_env)
    manager.start()
    try:
        job, _ = manager.submit(_upload(s3_client, prefix, files), f"s3://unit-output/{prefix}", {}, None)
        done = _wait(manager, job, {"succeeded", "failed"}, timeout=300)
    finally:
        manager.stop()
    assert done.state == "failed"
    assert done.error["code"] in ("sfm_no_model", "sfm_too_few_registered"), done.error
    assert "_SUCCESS" not in _outputs(s3_client, prefix)


def test_missing_input_bucket(s3_env, s3_client, prefix) -> None:
    done = _run_failing(s3_env, s3_client, prefix, None, "bucket_missing", input_url="s3://no-such-bucket/x")
    assert "no-such-bucket" in done.error["message"]


def test_unreachable_store_fails_with_reason(s3_env, tmp_path, monkeypatch, prefix) -> None:
    monkeypatch.setenv("E2E3D_S3_ENDPOINT", "http://127.0.0.1:9")  # the worker inherits this
    manager = _manager(s3_env)
    manager.start()
    try:
        job, _ = manager.submit("s3://unit-input/x", f"s3://unit-output/{prefix}", {}, None)
        done = _wait(manager, job, {"failed", "succeeded"})
    finally:
        manager.stop()
    assert done.error["code"] == "store_unreachable", done.error


@pytest.fixture
def held_input(
    s3_env, s3_server, prefix, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, str], HoldingProxy]]:
    """The service and its workers talk to S3 through a proxy that holds every read of this test's input.

    A job is then provably running (stage "download") until the test releases it, whatever the machine's speed.
    """
    with holding_proxy(s3_server["endpoint"]) as proxy:
        proxy.hold(reads_of("unit-input", prefix))
        monkeypatch.setenv("E2E3D_S3_ENDPOINT", proxy.endpoint)  # the workers inherit it
        yield {**s3_env, "E2E3D_S3_ENDPOINT": proxy.endpoint}, proxy


def test_cancel_a_running_job(held_input, s3_client, prefix, small_set) -> None:
    env, proxy = held_input
    manager = _manager(env)
    manager.start()
    try:
        url = _upload(s3_client, prefix, {p.name: p.read_bytes() for p in small_set})
        job, _ = manager.submit(url, f"s3://unit-output/{prefix}", {"device": "cpu"}, None)
        proxy.wait_until_held()
        running = _wait(manager, job, {"running"}, stage="download")
        worker_group = running.worker_pid
        assert worker_group and process_group_alive(worker_group)
        manager.cancel(job.id)
        done = _wait(manager, job, {"cancelled", "failed", "succeeded"}, timeout=30)
    finally:
        manager.stop()
    assert done.state == "cancelled"
    assert not process_group_alive(worker_group), "cancel must kill the worker's whole process group"
    out = _outputs(s3_client, prefix)
    assert "_SUCCESS" not in out and b'"cancelled"' in out["report.json"]


def test_per_job_timeout(held_input, s3_client, prefix, small_set) -> None:
    """The store never answers the job's reads: the supervisor kills the job at its deadline."""
    env, proxy = held_input
    # The deadline counts from the job's start, worker start-up included (imports take seconds on a loaded machine):
    # 20 s leaves the worker time to reach its held read, which is what the test proves the deadline interrupts.
    manager = _manager(env, timeout_s=20)
    manager.start()
    try:
        url = _upload(s3_client, prefix, {p.name: p.read_bytes() for p in small_set})
        job, _ = manager.submit(url, f"s3://unit-output/{prefix}", {}, None)
        proxy.wait_until_held()
        done = _wait(manager, job, {"failed", "succeeded"}, timeout=60)
    finally:
        manager.stop()
    assert done.state == "failed"
    assert done.error["code"] == "timeout", done.error
    assert "20s limit" in done.error["message"]
    out = _outputs(s3_client, prefix)
    assert "_SUCCESS" not in out and b'"reason": "timeout"' in out["report.json"]
    text = generate_latest(manager.metrics.registry).decode()
    assert 'e2e3d_job_failures_total{reason="timeout"} 1.0' in text


@pytest.mark.parametrize("attempts", [1, 2])
def test_restart_during_a_job(held_input, s3_client, prefix, small_set, attempts: int) -> None:
    env, proxy = held_input
    url = _upload(s3_client, prefix, {p.name: p.read_bytes() for p in small_set})
    first = _manager(env, attempts=attempts)
    first.start()
    job, _ = first.submit(url, f"s3://unit-output/{prefix}", {}, None)
    proxy.wait_until_held()
    _wait(first, job, {"running"}, stage="download")
    first.stop()  # the service goes away mid-job (its worker is killed with it)
    assert JobStore(Path(env["E2E3D_STATE_DIR"])).load_all()[0].state == "running"
    second = _manager(env, attempts=attempts)
    second.start()
    try:
        recovered = second.get(job.id)
        if attempts == 1:
            assert recovered.state == "failed" and recovered.error["code"] == "interrupted"
            assert "during download" in recovered.error["message"]
        else:
            proxy.wait_until_held(count=2)  # the retry reads the input again
            again = _wait(second, job, {"running"}, stage="download")
            assert again.attempts == 2
            second.cancel(job.id)
            assert _wait(second, job, {"cancelled"}, timeout=30).state == "cancelled"
    finally:
        second.stop()


def test_concurrency_is_bounded(held_input, s3_client, prefix, small_set) -> None:
    env, proxy = held_input
    manager = _manager(env)  # one supervisor: E2E3D_MAX_CONCURRENT_JOBS=1
    manager.start()
    try:
        url = _upload(s3_client, prefix, {p.name: p.read_bytes() for p in small_set})
        first, _ = manager.submit(url, f"s3://unit-output/{prefix}/a", {}, None)
        second, _ = manager.submit(url, f"s3://unit-output/{prefix}/b", {}, None)
        proxy.wait_until_held()
        _wait(manager, first, {"running"}, stage="download")
        assert manager.get(second.id).state == "queued"
        manager.cancel(second.id)
        manager.cancel(first.id)
        _wait(manager, first, {"cancelled"}, timeout=30)
        assert manager.get(second.id).attempts == 0  # it never ran
    finally:
        manager.stop()

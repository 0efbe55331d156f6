"""End to end against the lab's real S3 server (the `minio` stand-in from the lab upstream registry, run with
Docker): the service as a real process, a job through the API on the synthetic set, outputs, report, quality,
metrics; wrong credentials; a service killed in the middle of a job.

Run: E2E3D_TEST_KIND=integration tools/python/run packages/reconstruction pytest -q -m integration
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from conftest import free_port, process_group_alive
from e2e3d_reconstruction.benchmark import ensure_dataset, evaluate_outputs
from holding_proxy import holding_proxy, reads_of

pytestmark = pytest.mark.integration
DOCKER = shutil.which("docker", path="/usr/bin") or "docker"
S3_IMAGE = os.environ.get(
    "E2E3D_S3_IMAGE",
    f"{os.environ.get('E2E3D_UPSTREAM_REGISTRY', '127.0.0.1:5101')}/quay.io/minio/minio:versitygw-v1.8.0",
)


@pytest.fixture(scope="module")
def lab_s3() -> Iterator[dict[str, str]]:
    user, password = "e2e3d-it", secrets.token_hex(16)
    name = f"e2e3d-recon-it-{secrets.token_hex(4)}"
    run = subprocess.run(
        [DOCKER, "run", "-d", "--rm", "--name", name, "-p", "127.0.0.1::9000",
         "-e", f"MINIO_ROOT_USER={user}", "-e", f"MINIO_ROOT_PASSWORD={password}", S3_IMAGE, "server", "/data"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        pytest.fail(f"cannot start the lab S3 server {S3_IMAGE} (is the lab up?): {run.stderr.strip()}")
    try:
        # The engine picked the host port (a port chosen here and freed could be taken before docker binds it).
        published = subprocess.run([DOCKER, "port", name, "9000/tcp"], capture_output=True, text=True, check=True)
        endpoint = f"http://{published.stdout.splitlines()[0].strip()}"
        deadline = time.monotonic() + 180  # a cold start on two loaded cores
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/minio/health/live", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield {"endpoint": endpoint, "access_key": user, "secret_key": password}
    finally:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True, check=False)


class Service:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['E2E3D_PORT']}"

    def start(self, wait: bool = True) -> None:
        for _ in range(3):
            logged = self.log.stat().st_size if self.log.exists() else 0
            with self.log.open("a") as sink:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "e2e3d_reconstruction.cli", "serve"], env=self.env, stdout=sink, stderr=sink
                )
            if not wait:
                return
            deadline = time.monotonic() + 180  # imports (torch) and the store check on two loaded cores
            while self.status("/readyz") != 200:
                if self.proc.poll() is not None:
                    break
                assert time.monotonic() < deadline, "service not ready in 180 s"
                time.sleep(0.5)
            else:
                return
            tail = self.log.read_bytes()[logged:].decode(errors="replace")
            # The port was free when chosen but another process took it before the service bound it: choose again.
            assert "address already in use" in tail.lower(), tail[-2000:]
            self.env["E2E3D_PORT"] = str(free_port())
        raise AssertionError("the service could not bind a free port in 3 tries")

    def status(self, path: str) -> int:
        """The HTTP status of a GET, 0 when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            body = r.read().decode()
            return json.loads(body) if r.headers.get_content_type() == "application/json" else body

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(), {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def wait(self, job_id: str, states: set[str], timeout: float, stage: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            job = self.get(f"/v1/jobs/{job_id}")
            if job["state"] in states and (stage is None or job["stage"] == stage):
                return job
            if (job["stage"], round(job["progress"], 1)) != last:
                last = (job["stage"], round(job["progress"], 1))
                print(f"  job {job['state']} {job['stage']} {job['progress']:.2f} {job['message']}", flush=True)
            time.sleep(1)
        raise AssertionError(f"job did not reach {states} in {timeout}s: {job}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def _env(lab_s3: dict[str, str], state: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "E2E3D_S3_ENDPOINT": lab_s3["endpoint"],
        "E2E3D_S3_ACCESS_KEY": lab_s3["access_key"],
        "E2E3D_S3_SECRET_KEY": lab_s3["secret_key"],
        "E2E3D_STATE_DIR": str(state),
        "E2E3D_PORT": str(free_port()),
        "E2E3D_BUCKETS": "e2e3d-input,e2e3d-output",
        **extra,
    }


@pytest.fixture(scope="module")
def dataset(lab_s3: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(os.environ.get("E2E3D_DATASET_CACHE", str(tmp_path_factory.mktemp("synthetic"))))
    ensure_dataset(root)
    return root


def _s3(lab_s3: dict[str, str]):
    return boto3.client("s3", endpoint_url=lab_s3["endpoint"], aws_access_key_id=lab_s3["access_key"],
                        aws_secret_access_key=lab_s3["secret_key"], region_name="us-east-1")  # fmt: skip


def _upload(lab_s3, dataset: Path, prefix: str) -> None:
    s3 = _s3(lab_s3)
    for image in sorted((dataset / "images").glob("*.jpg")):
        s3.upload_file(str(image), "e2e3d-input", f"{prefix}/{image.name}")


def test_wrong_credentials_stop_the_service_loudly(lab_s3, tmp_path: Path) -> None:
    env = _env(lab_s3, tmp_path / "state", E2E3D_S3_SECRET_KEY="not-the-secret")
    run = subprocess.run([sys.executable, "-m", "e2e3d_reconstruction.cli", "serve"], env=env, capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 3
    assert "refused the credentials" in run.stderr and "not-the-secret" not in run.stderr


def test_job_end_to_end_on_the_synthetic_set(lab_s3, dataset: Path, tmp_path: Path) -> None:
    service = Service(_env(lab_s3, tmp_path / "state", E2E3D_DEVICE="cpu"), tmp_path / "service.log")
    service.start()
    try:
        _upload(lab_s3, dataset, "synthetic")
        before = service.get("/metrics")
        assert 'e2e3d_jobs{state="succeeded"} 0.0' in before
        body = {
            "input": "s3://e2e3d-input/synthetic",
            "output": "s3://e2e3d-output/synthetic-run",
            "idempotency_key": "it-1",
        }
        job = service.post("/v1/jobs", body)
        assert service.post("/v1/jobs", body)["id"] == job["id"]
        done = service.wait(job["id"], {"succeeded", "failed", "cancelled"}, timeout=1500)
        assert done["state"] == "succeeded", done
        assert set(done["stage_seconds"]) >= {"download", "validate", "sfm", "dense", "export", "upload"}
        s3 = _s3(lab_s3)
        keys = {
            o["Key"].split("/")[-1]
            for o in s3.list_objects_v2(Bucket="e2e3d-output", Prefix="synthetic-run/")["Contents"]
        }
        assert keys >= {"mesh.ply", "mesh.obj", "points.ply", "sparse.ply", "cameras.json", "report.json", "_SUCCESS"}
        report = json.loads(s3.get_object(Bucket="e2e3d-output", Key="synthetic-run/report.json")["Body"].read())
        assert report["status"] == "succeeded" and report["registered_images"] == 24 and report["device"] == "cpu"
        assert report["mean_reprojection_error_px"] < 1.5 and report["faces"] > 10000
        assert {"colmap", "torch", "numpy"} <= set(report["software"])
        for name in ("mesh.ply", "cameras.json"):
            s3.download_file("e2e3d-output", f"synthetic-run/{name}", str(tmp_path / name))
        quality = evaluate_outputs(tmp_path / "mesh.ply", tmp_path / "cameras.json", dataset)
        print(json.dumps(quality.as_dict(), indent=1))
        assert quality.fscore_at(0.02) >= 0.8
        after = service.get("/metrics")
        assert 'e2e3d_jobs{state="succeeded"} 1.0' in after
        assert "e2e3d_images_processed_total 24.0" in after
        assert 'e2e3d_stage_duration_seconds_count{stage="dense"} 1.0' in after
        assert 'e2e3d_dense_runs_total{device="cpu"} 1.0' in after
    finally:
        service.stop()


def test_service_killed_during_a_job_retries_it(lab_s3, dataset: Path, tmp_path: Path) -> None:
    """SIGKILL the service while its worker is provably mid-job: the S3 reads of the job's input go through a
    proxy that holds them until the test ends, so the job cannot finish first however fast the machine is."""
    with holding_proxy(lab_s3["endpoint"]) as proxy:
        proxy.hold(reads_of("e2e3d-input", "restart"))
        state = tmp_path / "state"
        env = _env({**lab_s3, "endpoint": proxy.endpoint}, state, E2E3D_DEVICE="cpu", E2E3D_MAX_ATTEMPTS="2")
        service = Service(env, tmp_path / "service.log")
        service.start()
        _upload(lab_s3, dataset, "restart")
        job = service.post("/v1/jobs", {"input": "s3://e2e3d-input/restart", "output": "s3://e2e3d-output/restart"})
        try:
            proxy.wait_until_held()
            service.wait(job["id"], {"running"}, timeout=60, stage="download")
            orphan = json.loads((state / "jobs" / job["id"] / "job.json").read_text())["worker_pid"]
            service.stop(signal.SIGKILL)  # no clean shutdown: the worker is orphaned, the state file says running
            assert process_group_alive(orphan)
            service.start()
            proxy.wait_until_held(count=2)  # the retry reads the input again
            again = service.wait(job["id"], {"running"}, timeout=60, stage="download")
            assert again["attempts"] == 2  # the state file said running; the restart re-queued it and ran it again
            assert not process_group_alive(orphan), "the restart must kill the orphaned worker of the old service"
            service.post(f"/v1/jobs/{job['id']}/cancel", {})
            assert service.wait(job["id"], {"cancelled"}, timeout=60)["state"] == "cancelled"
        finally:
            service.stop()

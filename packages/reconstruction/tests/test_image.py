"""The CPU image: built from the lab's locked Debian base, started as UID 10001 against the lab's S3 server,
healthy by its own HEALTHCHECK, ready, and running a job (an empty prefix: fails fast with its reason).

Run: E2E3D_TEST_KIND=integration tools/python/run packages/reconstruction pytest -q -m integration -k image
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
DOCKER = "/usr/bin/docker"  # Debian's client: it uses the daemon's BuildKit (the 28.x client on PATH refuses)
LAB_HOME = Path(os.environ.get("E2E3D_LAB_HOME", Path.home() / ".local/state/e2e3d-lab"))
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _base_image() -> str:
    if os.environ.get("E2E3D_BASE_IMAGE"):
        return os.environ["E2E3D_BASE_IMAGE"]
    lab = json.loads((LAB_HOME / "lab.json").read_text())
    lock = json.loads((LAB_HOME / "images.lock.json").read_text())["images"]["debian-bookworm"]
    return f"{lab['upstream']}/{lock['source']}@{lock['digest']}"


def _docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    run = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and run.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed: {run.stderr[-2000:]}")
    return run.stdout.strip()


def _ready(url: str) -> tuple[bool, str]:
    """Whether /readyz says ready, and what it said."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=10) as answer:
            body = answer.read().decode()
    except urllib.error.HTTPError as exc:  # 503 while the object store is not reachable yet
        return False, f"HTTP {exc.code}: {exc.read().decode()[:500]}"
    except OSError as exc:
        return False, str(exc)
    return json.loads(body).get("status") == "ready", body


def test_cpu_image_builds_starts_and_runs_a_job() -> None:
    suffix = secrets.token_hex(4)
    # A tag of this run only (removed at the end): two runs at once never retag or remove each other's image.
    tag = f"e2e3d-it/reconstruction:test-{suffix}"
    build = [
        "build",
        "-f",
        str(REPO / "docker/reconstruction/Dockerfile"),
        "--build-arg",
        f"BASE_IMAGE={_base_image()}",
        "-t",
        tag,
    ]
    if CA_BUNDLE.exists():  # hosts behind a TLS-inspecting proxy (see the Dockerfile)
        build += ["--secret", f"id=ca_bundle,src={CA_BUNDLE}"]
    start = time.monotonic()
    run = subprocess.run(
        [DOCKER, *build, str(REPO)], capture_output=True, text=True, timeout=2400, check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    size = int(_docker("image", "inspect", "-f", "{{.Size}}", tag))
    print(f"\nbuilt {tag} in {time.monotonic() - start:.0f}s: {size / 1e9:.2f} GB")
    assert _docker("image", "inspect", "-f", "{{.Config.User}}", tag) == "10001:10001"

    net, s3, svc = f"e2e3d-recon-img-{suffix}", f"e2e3d-recon-img-s3-{suffix}", f"e2e3d-recon-img-svc-{suffix}"
    password = secrets.token_hex(16)
    s3_image = f"{json.loads((LAB_HOME / 'lab.json').read_text())['upstream']}/quay.io/minio/minio:versitygw-v1.8.0"
    try:
        _docker("network", "create", net)
        _docker("run", "-d", "--name", s3, "--network", net, "-e", "MINIO_ROOT_USER=e2e3d-img",
                "-e", f"MINIO_ROOT_PASSWORD={password}", s3_image, "server", "/data")  # fmt: skip
        # The engine picks the host port (127.0.0.1::8000) and keeps it: a port found free beforehand could be
        # taken by another process before the container binds it.
        _docker("run", "-d", "--name", svc, "--network", net, "-p", "127.0.0.1::8000",
                "-e", f"E2E3D_S3_ENDPOINT=http://{s3}:9000", "-e", "E2E3D_S3_ACCESS_KEY=e2e3d-img",
                "-e", f"E2E3D_S3_SECRET_KEY={password}", tag)  # fmt: skip
        deadline = time.monotonic() + 180
        # Poll to the deadline: on a loaded machine the first checks can fail past the start period ("unhealthy"),
        # and Docker turns the container healthy at its next passing check. Only an exited container ends early.
        status = "{{.State.Status}} {{.State.Health.Status}}"
        while (state := _docker("inspect", "-f", status, svc)).split()[-1] != "healthy":
            assert state.split()[0] == "running" and time.monotonic() < deadline, (
                f"service {state} after {time.monotonic() - deadline + 180:.0f}s:\n{_docker('logs', svc, check=False)}"
            )
            time.sleep(2)
        assert _docker("exec", svc, "id", "-u") == "10001"
        port = _docker("port", svc, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        # Healthy means alive (/healthz); ready also needs the object store, a separate container that may still
        # be starting: poll /readyz until the deadline instead of reading it once.
        while not (ready := _ready(url))[0]:
            assert time.monotonic() < deadline, f"not ready before the deadline: {ready[1]}"
            time.sleep(2)
        body = json.dumps({"input": "s3://e2e3d-input/empty", "output": "s3://e2e3d-output/empty"}).encode()
        req = urllib.request.Request(f"{url}/v1/jobs", body, {"content-type": "application/json"})
        job_id = json.loads(urllib.request.urlopen(req, timeout=10).read())["id"]
        while (job := json.loads(urllib.request.urlopen(f"{url}/v1/jobs/{job_id}", timeout=10).read()))["state"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline + 60
            time.sleep(1)
        assert job["state"] == "failed" and job["error"]["code"] == "no_images", job
        metrics = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
        assert 'e2e3d_job_failures_total{reason="no_images"} 1.0' in metrics
    finally:
        for name in (svc, s3):
            _docker("rm", "-f", name, check=False)
        _docker("network", "rm", net, check=False)
        _docker("image", "rm", tag, check=False)

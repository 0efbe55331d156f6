"""The Docker engine and the lab's images, as the integration tests use them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = os.environ.get("E2E3D_DOCKER", "/usr/bin/docker")  # Debian's client: it has BuildKit (see FIELD-NOTES)
LAB_IMAGES_FILE = Path(__file__).resolve().parents[4] / "docker" / "lab" / "images.yaml"
LAB_HOME = Path(os.environ.get("E2E3D_LAB_HOME", Path.home() / ".local/state/e2e3d-lab"))


def lab_state() -> dict[str, Any]:
    path = LAB_HOME / "lab.json"
    return json.loads(path.read_text()) if path.exists() else {}


def docker(*args: str, check: bool = True, timeout: float = 600, env: dict | None = None) -> Any:
    result = subprocess.run(  # noqa: S603
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "1", **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}... exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def base_image() -> str:
    """The pinned Debian base the lab provides (by digest); E2E3D_AIRFLOW_BASE_IMAGE overrides."""
    ref = os.environ.get("E2E3D_AIRFLOW_BASE_IMAGE") or lab_state().get("baseImage", {}).get("reference")
    if not ref:
        pytest.fail(f"no base image: the lab has not written {LAB_HOME}/lab.json; run `npx nx run lab:up`")
    return ref


def lab_image(env_var: str, name: str) -> str:
    """The lab's stand-in for image `name` of docker/lab/images.yaml (`<upstream>/<source>:<tag>`), present locally
    or pulled from the lab upstream; the env var `env_var` overrides the reference."""
    images = yaml.safe_load(LAB_IMAGES_FILE.read_text())["images"]
    entry = next((i for i in images if i["name"] == name), None)
    if entry is None:
        pytest.fail(f"{LAB_IMAGES_FILE} has no image named {name!r}")
    upstream = os.environ.get("E2E3D_UPSTREAM_REGISTRY") or lab_state().get("upstream") or "127.0.0.1:5101"
    ref = os.environ.get(env_var) or f"{upstream}/{entry['source']}:{entry['tag']}"
    if docker("image", "inspect", ref, check=False).returncode != 0:
        pulled = docker("pull", ref, check=False)
        if pulled.returncode != 0:
            hint = f"run `npx nx run lab:up` or set {env_var}"
            pytest.fail(f"lab image {ref} is missing ({pulled.stderr.strip()}); {hint}")
    return ref


def wait_healthy(container: str, timeout_s: float) -> float:
    """Seconds until the container's HEALTHCHECK says healthy; fails with its logs otherwise."""
    started = time.monotonic()
    status = ""
    while time.monotonic() - started < timeout_s:
        inspect = docker("inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                         container, check=False)  # fmt: skip
        state, _, status = inspect.stdout.strip().partition(" ")
        if status == "healthy":
            return time.monotonic() - started
        if state in ("exited", "dead"):
            break
        time.sleep(2)
    logs = docker("logs", "--tail", "60", container, check=False)
    health = docker("inspect", "-f", "{{json .State.Health}}", container, check=False).stdout[-2000:]
    raise AssertionError(
        f"{container} not healthy after {time.monotonic() - started:.0f}s (state {state!r}, health {status!r})\n"
        f"health log: {health}\nlogs:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
    )


def scrape_exporter_until(network: str, image: str, pattern: re.Pattern[str], timeout_s: float = 120) -> str:
    """The statsd exporter's metrics (`statsd-exporter` on `network`) once `pattern` shows up in them, or the last
    scrape at the deadline. Airflow's StatsD metrics are UDP datagrams sent by another process than the one whose
    state the test just saw change (a heartbeat after health, a task counter after the run's state): a single
    scrape right then races with them, so poll real scrapes until a deadline instead."""
    fetch = (
        "import urllib.request; print(urllib.request.urlopen('http://statsd-exporter:9102/metrics').read().decode())"
    )
    deadline = time.monotonic() + timeout_s
    while True:
        # check=False: an exporter not answering yet is one more reason to poll again, not an error.
        scrape = docker("run", "--rm", "--network", network, image, "python3", "-c", fetch, check=False)
        metrics = scrape.stdout if scrape.returncode == 0 else f"scrape failed: {scrape.stderr[-1000:]}"
        if pattern.search(metrics) or time.monotonic() > deadline:
            return metrics
        time.sleep(3)

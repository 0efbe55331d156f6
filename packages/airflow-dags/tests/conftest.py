"""Shared fixtures: an isolated AIRFLOW_HOME, a real S3 server, and the reconstruction API stand-in."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration at import time: isolate it before anything imports airflow. One fresh home
# (and SQLite DB) per pytest process, so runs of this suite in parallel (Nx, other checkouts) never share one;
# removed when the process exits so no run leaves state for the next.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="e2e3d-airflow-test-")
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"

import pytest  # noqa: E402

from tests.reconstruction_api_standin import ReconstructionApiStandIn  # noqa: E402

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parents[1]
sys.path.insert(0, str(REPO_ROOT / "tools" / "skips"))
import pytest_skips  # noqa: E402  (the repository's skip check, shared with the vitest suites)


def pytest_addoption(parser: pytest.Parser) -> None:
    pytest_skips.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    # Every skip of the run is checked against tools/ci/allowed-skips.yaml at the end (refused ones fail it in CI).
    pytest_skips.register(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked lab_s3 need an S3 server that checks credentials. moto does not: without the lab's server they are
    # deselected (not skipped); tests/integration/test_lab_s3.py runs them against the lab's server.
    if os.environ.get("E2E3D_TEST_S3_ENDPOINT"):
        return
    needs_lab = [item for item in items if "lab_s3" in item.keywords]
    if needs_lab:
        config.hook.pytest_deselected(items=needs_lab)
        items[:] = [item for item in items if "lab_s3" not in item.keywords]


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL that refuses connections for the whole test: a socket bound to a port but not listening
    (Linux answers a connect with RST). Unlike a port found free and released, no other process running at the
    same time can take it and answer instead."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


class S3Server:
    """Where the task tests' S3 server is, and whether it checks credentials."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, checks_credentials: bool, kind: str):
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.checks_credentials = checks_credentials
        self.kind = kind

    def settings(self, secret_key: str | None = None) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": secret_key or self.secret_key,
            "region_name": "us-east-1",
        }

    def client(self, secret_key: str | None = None):
        from e2e3d_lib.objectstore import make_client

        return make_client(self.settings(secret_key))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The lab's S3 server when E2E3D_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY) names it; otherwise a local
    moto server: a real S3-compatible HTTP server (boto3 talks S3 over HTTP to it), though it does not check
    credentials, so the wrong-credentials test needs the lab's server."""
    endpoint = os.environ.get("E2E3D_TEST_S3_ENDPOINT")
    if endpoint:
        print(f"\nS3 server: {endpoint} (from E2E3D_TEST_S3_ENDPOINT)")
        yield S3Server(
            endpoint,
            os.environ["E2E3D_TEST_S3_ACCESS_KEY"],
            os.environ["E2E3D_TEST_S3_SECRET_KEY"],
            checks_credentials=True,
            kind="lab",
        )
        return
    from moto.server import ThreadedMotoServer

    # Port 0: the server binds a port the kernel picks and keeps it. (Picking a free port first and binding it
    # later races with every other process on the machine, and moto's start() waits forever when its bind fails.)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"\nS3 server: moto on 127.0.0.1:{port} (set E2E3D_TEST_S3_ENDPOINT to use the lab's S3 server)")
    try:
        yield S3Server(f"http://127.0.0.1:{port}", "test-access-key", "test-secret-key", False, "moto")
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh bucket per test, emptied and removed afterwards."""
    client = s3_server.client()
    name = f"e2e3d-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture
def api() -> Iterator[ReconstructionApiStandIn]:
    server = ReconstructionApiStandIn()
    server.start()
    try:
        yield server
    finally:
        server.stop()

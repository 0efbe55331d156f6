"""Shared fixtures.

The unit suite needs an S3 server but may not use Docker: it runs moto's S3 server in-process (a real S3
protocol endpoint over HTTP on loopback, not a mock of our code). The integration suite (marker
`integration`, E2E3D_TEST_KIND=integration) uses the lab's S3 server instead; each run deselects the other's tests.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACKAGE_DIR.parents[1] / "tools" / "skips"))
import pytest_skips  # noqa: E402  (the repository's skip check, shared with the vitest suites)

INTEGRATION = os.environ.get("E2E3D_TEST_KIND") == "integration"


def pytest_addoption(parser: pytest.Parser) -> None:
    pytest_skips.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    # Every skip of the run is checked against tools/ci/allowed-skips.yaml at the end (refused ones fail it in CI).
    pytest_skips.register(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The unit and the integration run are two selections of one test tree: what belongs to the other run is
    # deselected (reported in pytest's "deselected" count), not skipped, so a skip always means "could not run here".
    other = [item for item in items if ("integration" in item.keywords) != INTEGRATION]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    # Port 0: the server binds a port of its own choosing, read back afterwards (a port picked here and freed could be
    # taken by another process before moto binds it).
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    yield {"endpoint": f"http://127.0.0.1:{port}", "access_key": "unit-test-access", "secret_key": "unit-test-secret"}
    server.stop()


@pytest.fixture
def s3_env(s3_server: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for the service and its workers (workers inherit it)."""
    env = {
        "E2E3D_S3_ENDPOINT": s3_server["endpoint"],
        "E2E3D_S3_ACCESS_KEY": s3_server["access_key"],
        "E2E3D_S3_SECRET_KEY": s3_server["secret_key"],
        "E2E3D_STATE_DIR": str(tmp_path / "state"),
        "E2E3D_THREADS": "2",
        "E2E3D_BUCKETS": "unit-input,unit-output",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PYTHONPATH", str(PACKAGE_DIR / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


@pytest.fixture
def s3_client(s3_server: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=s3_server["endpoint"],
        aws_access_key_id=s3_server["access_key"],
        aws_secret_access_key=s3_server["secret_key"],
        region_name="us-east-1",
    )


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def process_group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (a job's worker leads its own group, COLMAP included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def python() -> str:
    return sys.executable

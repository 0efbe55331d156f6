"""Fixtures of the image suites: the image built on the lab base, a private network, the lab's Postgres and Redis,
the secrets a deployment provides, and the Airflow services, all removed at the end even when a test fails."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import REPO_ROOT
from tests.integration.lab import base_image, docker, lab_image, wait_healthy

DOCKERFILE = "docker/airflow/Dockerfile"
# The image needs only these paths of the repository (see docker/airflow/Dockerfile.dockerignore).
CONTEXT_PATHS = ["docker/airflow", "packages/airflow-dags/dags"]
CA_BUNDLE = os.environ.get("E2E3D_BUILD_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
RUN_ID = uuid.uuid4().hex[:8]


def build(context: Path, tag: str) -> tuple[float, str]:
    args = ["build", "--progress=plain", "-f", str(context / DOCKERFILE), "--build-arg", f"BASE_IMAGE={base_image()}"]
    if Path(CA_BUNDLE).is_file():  # hosts behind a TLS-inspecting proxy: pip must trust its CA (not kept)
        args += ["--secret", f"id=ca_bundle,src={CA_BUNDLE}"]
    started = time.monotonic()
    result = docker(*args, "-t", tag, str(context), timeout=1800)
    return time.monotonic() - started, result.stderr


def steps(log: str) -> dict[str, bool]:
    """Dockerfile steps of a --progress=plain log → whether each was a cache hit."""
    # BuildKit's plain progress: "#9 [stage-0 5/8] RUN ..." then "#9 CACHED" or "#9 DONE 12.3s"; FROM is not a step.
    names = {n: text for n, text in re.findall(r"^#(\d+) \[(?:[\w.-]+ )?\d+/\d+\] (.+)$", log, re.M)}
    names = {n: text for n, text in names.items() if not text.startswith("FROM ")}
    cached = set(re.findall(r"^#(\d+) CACHED$", log, re.M))
    return {name: number in cached for number, name in names.items()}


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    tag = f"e2e3d-test/airflow:{RUN_ID}"
    seconds, log = build(REPO_ROOT, tag)
    size = int(docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip())
    built = steps(log)
    assert built, f"no build steps found in the build log:\n{log[-2000:]}"
    cached = f"{sum(built.values())}/{len(built)} steps cached"
    print(f"\nimage {tag}: built in {seconds:.1f}s ({cached}), {size / 1e6:.0f} MB")
    yield tag
    docker("image", "rm", tag, check=False)


@pytest.fixture(scope="session")
def network() -> Iterator[str]:
    name = f"e2e3d-airflow-test-{RUN_ID}"
    docker("network", "create", name)
    yield name
    docker("network", "rm", name, check=False)


class Containers:
    """Containers this suite started; all removed at the end, even when a test fails."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        name = f"e2e3d-airflow-test-{RUN_ID}-{len(self.names)}"
        self.names.append(name)
        docker("run", "-d", "--name", name, *args, env=env)
        return name

    def remove_all(self) -> None:
        for name in reversed(self.names):
            docker("rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="session")
def containers() -> Iterator[Containers]:
    started = Containers()
    yield started
    started.remove_all()


@pytest.fixture(scope="session")
def object_store(network: str, containers: Containers) -> dict[str, str]:
    """The lab's S3 stand-in, on the network as `object-store` and published on loopback for the test."""
    image = lab_image("E2E3D_TEST_S3_IMAGE", "minio")
    access_key, secret_key = "e2e3d" + secrets.token_hex(4), secrets.token_urlsafe(24)
    env = {"MINIO_ROOT_USER": access_key, "MINIO_ROOT_PASSWORD": secret_key}
    name = containers.run("--network", network, "--network-alias", "object-store", "-p", "127.0.0.1::9000",
                          *env_args(env), image, env=env)  # fmt: skip
    wait_healthy(name, 180)
    port = docker("port", name, "9000/tcp").stdout.strip().splitlines()[0].rsplit(":", 1)[1]
    return {"endpoint": f"http://127.0.0.1:{port}", "access_key": access_key, "secret_key": secret_key}


@pytest.fixture(scope="session")
def airflow_env(network: str, containers: Containers, object_store: dict[str, str]) -> dict[str, str]:
    """A real Postgres and Redis (the lab's stand-ins) and what a deployment provides: secrets and connections."""
    db_password, redis_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    postgres = lab_image("E2E3D_TEST_POSTGRES_IMAGE", "postgres")
    redis = lab_image("E2E3D_TEST_REDIS_IMAGE", "redis")
    pg = containers.run("--network", network, "--network-alias", "postgres", "-e", "POSTGRES_USER=airflow",
                        "-e", f"POSTGRES_PASSWORD={db_password}", "-e", "POSTGRES_DB=airflow", postgres)  # fmt: skip
    rd = containers.run("--network", network, "--network-alias", "redis", redis,
                        "redis-server", "--requirepass", redis_password)  # fmt: skip
    print(f"\npostgres healthy after {wait_healthy(pg, 240):.0f}s, redis after {wait_healthy(rd, 180):.0f}s")
    store = {
        "conn_type": "aws",
        "login": object_store["access_key"],
        "password": object_store["secret_key"],
        "extra": {"endpoint_url": "http://object-store:9000"},
    }
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow:{db_password}@postgres:5432/airflow",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:{redis_password}@redis:6379/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://airflow:{db_password}@postgres:5432/airflow",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-api:8080/execution/",
        "E2E3D_AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "AIRFLOW_CONN_E2E3D_OBJECT_STORE": json.dumps(store),
        "AIRFLOW_CONN_E2E3D_RECONSTRUCTION_API": json.dumps(
            {"conn_type": "http", "host": "http://reconstruction-api:8000"}
        ),
        "AIRFLOW_VAR_E2E3D_WATCH_INPUT": "s3://e2e3d-input/incoming/",
        "AIRFLOW_VAR_E2E3D_WATCH_OUTPUT": "s3://e2e3d-output/auto/",
    }


def env_args(env: dict[str, str]) -> list[str]:
    # Values travel through the environment of the docker client (`-e NAME`), not its command line.
    return [arg for name in env for arg in ("-e", name)]


def run_init(image: str, network: str, airflow_env: dict[str, str], attempt: int) -> str:
    started = time.monotonic()
    result = docker("run", "--rm", "--network", network, *env_args(airflow_env), image, "init",
                    env=airflow_env, check=False, timeout=900)  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"init run {attempt} failed:\n{log[-5000:]}"
    assert "init complete" in log
    print(f"\ninit run {attempt}: {time.monotonic() - started:.1f}s")
    return log


@pytest.fixture(scope="session")
def first_init(image, network, airflow_env) -> str:
    """The init one-shot, run once on the fresh database (services need the migrated schema)."""
    return run_init(image, network, airflow_env, 1)


HEALTH = ["--health-interval", "5s", "--health-start-period", "240s"]


@pytest.fixture(scope="session")
def airflow_services(image, network, airflow_env, containers, first_init) -> dict[str, str]:
    """statsd_exporter (the lab's), the API server (published on loopback) and the scheduler, healthy."""
    exporter_image = lab_image("E2E3D_TEST_STATSD_EXPORTER_IMAGE", "statsd-exporter")
    mapping = REPO_ROOT / "docker/airflow/statsd-mapping.yml"
    containers.run("--network", network, "--network-alias", "statsd-exporter",
                   "-v", f"{mapping}:/etc/statsd/mapping.yml:ro", exporter_image,
                   "--statsd.mapping-config=/etc/statsd/mapping.yml")  # fmt: skip
    api = containers.run("--network", network, "--network-alias", "airflow-api", "-p", "127.0.0.1::8080", *HEALTH,
                         *env_args(airflow_env), image, "api-server", env=airflow_env)  # fmt: skip
    scheduler = containers.run("--network", network, *HEALTH, *env_args(airflow_env), image, "scheduler",
                               env=airflow_env)  # fmt: skip
    print(f"\napi-server healthy after {wait_healthy(api, 600):.0f}s")
    print(f"scheduler healthy after {wait_healthy(scheduler, 600):.0f}s")
    port = docker("port", api, "8080/tcp").stdout.strip().splitlines()[0].rsplit(":", 1)[1]
    return {"api": api, "scheduler": scheduler, "api_url": f"http://127.0.0.1:{port}"}


@pytest.fixture(scope="session")
def airflow_workers(image, network, airflow_env, containers, airflow_services) -> dict[str, str]:
    """The remaining roles (dag processor, triggerer, Celery worker), healthy, and the reconstruction API stand-in
    (tests/reconstruction_api_standin.py served from a container; it writes a job's outputs to the object store)."""
    tests_dir = REPO_ROOT / "packages/airflow-dags/tests"
    standin_env = {
        "STANDIN_S3_ENDPOINT": "http://object-store:9000",
        "STANDIN_S3_ACCESS_KEY": json.loads(airflow_env["AIRFLOW_CONN_E2E3D_OBJECT_STORE"])["login"],
        "STANDIN_S3_SECRET_KEY": json.loads(airflow_env["AIRFLOW_CONN_E2E3D_OBJECT_STORE"])["password"],
        "PYTHONPATH": "/standin",
        "E2E3D_RECONSTRUCTION_API_CONTRACT": "/standin/api-contract.json",
    }
    contract = REPO_ROOT / "packages/reconstruction/api-contract.json"
    mounts = ["-v", f"{tests_dir}:/standin/tests:ro", "-v", f"{contract}:/standin/api-contract.json:ro"]
    # Healthy once it accepts connections: a stand-in that dies at import fails here with its log, not as a DAG
    # run that retries a missing host until the run's deadline.
    listening = "import socket; socket.create_connection(('127.0.0.1', 8000), 2)"
    standin = containers.run("--network", network, "--network-alias", "reconstruction-api", *mounts,
                             "--health-cmd", f'python3 -c "{listening}"', "--health-interval", "2s",
                             *env_args(standin_env), image, "python3", "-m", "tests.integration.standin_server",
                             env=standin_env)  # fmt: skip
    print(f"reconstruction API stand-in healthy after {wait_healthy(standin, 120):.0f}s")
    names = {
        role: containers.run(
            "--network",
            network,
            "--hostname",
            f"airflow-{role}",
            *HEALTH,
            *env_args(airflow_env),
            image,
            role,
            env=airflow_env,
        )  # fmt: skip
        for role in ("dag-processor", "triggerer", "celery-worker")
    }
    for role, name in names.items():
        print(f"{role} healthy after {wait_healthy(name, 600):.0f}s")
    return names

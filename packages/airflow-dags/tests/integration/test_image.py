"""The Airflow image on the lab: it builds, runs as the non-root user, refuses to start without its secrets,
migrates a real Postgres twice, and its scheduler and API server reach healthy.

Run by the Nx `integration` target (after `lab:up`): tools/python/run packages/airflow-dags pytest -m integration
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import REPO_ROOT
from tests.integration.lab import base_image, docker, lab_image, wait_healthy

# Building the image cold takes minutes on two cores: a longer limit than the unit tests.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

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
def airflow_env(network: str, containers: Containers) -> dict[str, str]:
    """A real Postgres and Redis (the lab's stand-ins) and the secrets a deployment would provide."""
    db_password, redis_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    postgres = lab_image("E2E3D_TEST_POSTGRES_IMAGE", "docker.io/library/postgres", "15.18")
    redis = lab_image("E2E3D_TEST_REDIS_IMAGE", "docker.io/library/redis", "7.0.15")
    pg = containers.run("--network", network, "--network-alias", "postgres", "-e", "POSTGRES_USER=airflow",
                        "-e", f"POSTGRES_PASSWORD={db_password}", "-e", "POSTGRES_DB=airflow", postgres)  # fmt: skip
    rd = containers.run("--network", network, "--network-alias", "redis", redis,
                        "redis-server", "--requirepass", redis_password)  # fmt: skip
    print(f"\npostgres healthy after {wait_healthy(pg, 120):.0f}s, redis after {wait_healthy(rd, 60):.0f}s")
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow:{db_password}@postgres:5432/airflow",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:{redis_password}@redis:6379/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://airflow:{db_password}@postgres:5432/airflow",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-api:8080/execution/",
        "E2E3D_AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
    }


def env_args(env: dict[str, str]) -> list[str]:
    # Values travel through the environment of the docker client (`-e NAME`), not its command line.
    return [arg for name in env for arg in ("-e", name)]


def test_airflow_version_runs_as_the_non_root_user(image):
    version = docker("run", "--rm", image, "airflow", "version").stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"3\.\d+\.\d+", version), version
    ids = docker("run", "--rm", image, "id", "-u", "-n").stdout.strip(), docker("run", "--rm", image, "id").stdout
    assert ids[0] == "airflow"
    assert ids[1].startswith("uid=50000(airflow) gid=0(root)")
    stat = docker("run", "--rm", image, "stat", "-c", "%a %u:%g %n", "/opt/airflow", "/opt/airflow/logs",
                  "/opt/airflow/dags", "/opt/airflow/dags/e2e3d_reconstruction.py")  # fmt: skip
    # Writable for group 0 where Airflow writes; the DAGs are root's, read-only for the runtime user.
    assert stat.stdout.splitlines() == [
        "2775 50000:0 /opt/airflow",
        "2775 50000:0 /opt/airflow/logs",
        "2755 0:0 /opt/airflow/dags",
        "644 0:0 /opt/airflow/dags/e2e3d_reconstruction.py",
    ]


def test_the_image_holds_the_dags(image):
    result = docker("run", "--rm", image, "bash", "-c", "ls /opt/airflow/dags")
    assert {"e2e3d_reconstruction.py", "e2e3d_input_watch.py", "e2e3d_lib"} <= set(result.stdout.split())


@pytest.mark.parametrize("role", ["api-server", "scheduler", "dag-processor", "triggerer", "celery-worker", "init"])
def test_every_role_refuses_to_start_without_its_secrets(image, role):
    result = docker("run", "--rm", image, role, check=False, timeout=60)
    assert result.returncode == 64, result.stderr
    assert f"airflow {role}: refusing to start" in result.stderr
    for name in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert f"{name} is not set" in result.stderr


def test_a_malformed_secret_is_named_and_not_printed(image):
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////tmp/x.db",
        "AIRFLOW__CORE__FERNET_KEY": "not-a-key",
        "AIRFLOW__API_AUTH__JWT_SECRET": "s3cr3t-value-that-must-not-leak",
        "AIRFLOW__API__SECRET_KEY": "short",
    }
    result = docker("run", "--rm", *env_args(env), image, "api-server", check=False, env=env, timeout=60)
    assert result.returncode == 64
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN must be a postgresql:// URL" in result.stderr
    assert "AIRFLOW__CORE__FERNET_KEY" in result.stderr and "AIRFLOW__API__SECRET_KEY is shorter" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout and "not-a-key" not in result.stderr


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


def test_init_migrates_postgres_and_is_harmless_twice(image, network, airflow_env, first_init):
    assert "Database migration done" in first_init or "migrat" in first_init.lower()
    second = run_init(image, network, airflow_env, 2)
    assert "already exist" in second  # the admin user is left as it is
    assert airflow_env["E2E3D_AIRFLOW_ADMIN_PASSWORD"] not in first_init + second


def test_scheduler_and_api_server_become_healthy_and_send_metrics(image, network, airflow_env, containers, first_init):
    exporter_image = lab_image("E2E3D_TEST_STATSD_EXPORTER_IMAGE", "docker.io/prom/statsd-exporter", "v0.31.0")
    mapping = REPO_ROOT / "docker/airflow/statsd-mapping.yml"
    containers.run("--network", network, "--network-alias", "statsd-exporter",
                   "-v", f"{mapping}:/etc/statsd/mapping.yml:ro", exporter_image,
                   "--statsd.mapping-config=/etc/statsd/mapping.yml")  # fmt: skip
    health = ["--health-interval", "5s", "--health-start-period", "180s"]
    api = containers.run("--network", network, "--network-alias", "airflow-api", *health, *env_args(airflow_env),
                         image, "api-server", env=airflow_env)  # fmt: skip
    scheduler = containers.run("--network", network, *health, *env_args(airflow_env), image, "scheduler",
                               env=airflow_env)  # fmt: skip
    print(f"\napi-server healthy after {wait_healthy(api, 300):.0f}s")
    print(f"scheduler healthy after {wait_healthy(scheduler, 300):.0f}s")
    # Airflow's StatsD metrics reach the exporter (what Prometheus scrapes) under their mapped names.
    fetch = (
        "import urllib.request; print(urllib.request.urlopen('http://statsd-exporter:9102/metrics').read().decode())"
    )
    metrics = docker("run", "--rm", "--network", network, image, "python3", "-c", fetch).stdout
    assert re.search(r"^airflow_scheduler_heartbeat(_total)? [1-9]", metrics, re.M), metrics[-2000:]


def test_a_dag_only_change_rebuilds_only_the_last_layer(image, tmp_path):
    context = tmp_path / "context"
    for path in CONTEXT_PATHS:
        shutil.copytree(REPO_ROOT / path, context / path, ignore=shutil.ignore_patterns("__pycache__"))
    dag = context / "packages/airflow-dags/dags/e2e3d_reconstruction.py"
    dag.write_text(dag.read_text() + f"\n# changed by the layer test {RUN_ID}\n")
    tag = f"e2e3d-test/airflow:{RUN_ID}-dagchange"
    try:
        seconds, log = build(context, tag)
    finally:
        docker("image", "rm", tag, check=False)
    rebuilt = [name for name, cached in steps(log).items() if not cached]
    print(f"\nDAG-only change: rebuilt in {seconds:.1f}s; steps rebuilt: {rebuilt}")
    assert rebuilt == ["COPY packages/airflow-dags/dags/ /opt/airflow/dags/"]

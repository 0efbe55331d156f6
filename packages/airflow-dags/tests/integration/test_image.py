"""The Airflow image on the lab: it builds, runs as the non-root user, refuses to start without its secrets,
migrates a real Postgres twice, and its scheduler and API server reach healthy.

Run by the Nx `integration` target (after `lab:up`): tools/python/run packages/airflow-dags pytest -m integration
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import REPO_ROOT
from tests.integration.conftest import CONTEXT_PATHS, RUN_ID, build, env_args, run_init, steps
from tests.integration.lab import docker, scrape_exporter_until

# Building the image cold takes minutes on two cores: a longer limit than the unit tests.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


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
    result = docker("run", "--rm", image, role, check=False, timeout=180)
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
    result = docker("run", "--rm", *env_args(env), image, "api-server", check=False, env=env, timeout=180)
    assert result.returncode == 64
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN must be a postgresql:// URL" in result.stderr
    assert "AIRFLOW__CORE__FERNET_KEY" in result.stderr and "AIRFLOW__API__SECRET_KEY is shorter" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout and "not-a-key" not in result.stderr


def test_init_migrates_postgres_and_is_harmless_twice(image, network, airflow_env, first_init):
    assert "Database migration done" in first_init or "migrat" in first_init.lower()
    second = run_init(image, network, airflow_env, 2)
    assert "already exist" in second  # the admin user is left as it is
    assert airflow_env["E2E3D_AIRFLOW_ADMIN_PASSWORD"] not in first_init + second


def test_scheduler_and_api_server_become_healthy_and_send_metrics(image, network, airflow_services):
    assert (
        docker("inspect", "-f", "{{.State.Health.Status}}", airflow_services["scheduler"]).stdout.strip() == "healthy"
    )
    # Airflow's StatsD metrics reach the exporter (what Prometheus scrapes) under their mapped names. The heartbeat
    # counter appears with the scheduler's first heartbeat after it is healthy, not at the same moment.
    heartbeat = re.compile(r"^airflow_scheduler_heartbeat(_total)? [1-9]", re.M)
    metrics = scrape_exporter_until(network, image, heartbeat)
    assert heartbeat.search(metrics), metrics[-2000:]


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

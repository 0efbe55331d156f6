"""The image's files, checked without Docker: the lock is in sync, the Dockerfile cannot repeat the seed
report's failures, and the preflight names what a deployment forgot."""

from __future__ import annotations

import difflib
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.conftest import PACKAGE_DIR, REPO_ROOT

sys.path.insert(0, str(PACKAGE_DIR / "tools"))
import image_lock  # noqa: E402

AIRFLOW_DIR = REPO_ROOT / "docker" / "airflow"
DOCKERFILE = (AIRFLOW_DIR / "Dockerfile").read_text()
PREFLIGHT = AIRFLOW_DIR / "bin" / "preflight"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(x for x in DOCKERFILE.splitlines() if not x.lstrip().startswith("#")))
    return [(m[0].upper(), m[1].strip()) for m in re.findall(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def test_image_lock_is_in_sync_with_uv_lock():
    current, expected = image_lock.LOCK_FILE.read_text(), image_lock.render()
    diff = "".join(list(difflib.unified_diff(current.splitlines(True), expected.splitlines(True)))[:40])
    assert current == expected, f"run: {image_lock.WRITE_COMMAND}\n{diff}"


def test_image_lock_pins_every_distribution_with_hashes():
    text = image_lock.LOCK_FILE.read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", text, re.M)
    assert ("apache-airflow", "3.3.2") in pins
    assert {"apache-airflow-providers-celery", "apache-airflow-providers-postgres", "boto3"} <= {p for p, _ in pins}
    entries = [e for e in re.split(r"\n(?=[A-Za-z])", text) if re.match(r"[A-Za-z]", e)]
    assert entries and all("--hash=sha256:" in e for e in entries)


def test_dockerfile_takes_a_pinned_base_and_pulls_no_frontend():
    ops = instructions()
    assert ops[0] == ("ARG", "BASE_IMAGE") and ops[1] == ("FROM", "${BASE_IMAGE}")
    assert "# syntax" not in DOCKERFILE and ":latest" not in DOCKERFILE


def test_no_permission_step_after_user_and_no_named_group():
    """The seed's `chown: invalid group 'airflow:airflow'` and `chmod ... Operation not permitted` after USER."""
    ops = instructions()
    user_at = [i for i, (op, _) in enumerate(ops) if op == "USER"]
    assert len(user_at) == 1 and ops[user_at[0]][1] == "${AIRFLOW_UID}:0"
    after_user = ops[user_at[0] :]
    assert not [args for op, args in after_user if op == "RUN"], "no RUN after USER: root-only steps go before it"
    assert not re.search(r"chown\s+\S*airflow:airflow", DOCKERFILE)
    assert re.search(r"^ARG AIRFLOW_UID=50000$", DOCKERFILE, re.M)


def test_dags_are_the_last_layer():
    ops = [(op, args) for op, args in instructions() if op in ("COPY", "RUN", "ADD")]
    assert ops[-1] == ("COPY", "packages/airflow-dags/dags/ /opt/airflow/dags/")


def test_no_secret_defaults_in_the_image():
    for name in ("FERNET_KEY", "JWT_SECRET", "SECRET_KEY", "SQL_ALCHEMY_CONN", "BROKER_URL", "PASSWORD"):
        assert not re.search(rf"^\s*(ENV|ARG)\b.*{name}", DOCKERFILE, re.M), name
        assert f"{name}=" not in DOCKERFILE, name


def run_preflight(role: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREFLIGHT), role], env=env, capture_output=True, text=True, check=False)


GOOD = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:pw@postgres:5432/airflow",
    "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
    "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-long-enough-123",
    "AIRFLOW__API__SECRET_KEY": "api-secret-long-enough-123",
    "AIRFLOW__CELERY__BROKER_URL": "redis://:pw@redis:6379/0",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-api:8080/execution/",
    "E2E3D_AIRFLOW_ADMIN_PASSWORD": "admin-password-123",
}


@pytest.mark.parametrize("role", ["init", "api-server", "scheduler", "dag-processor", "triggerer", "celery-worker"])
def test_preflight_accepts_a_complete_deployment(role):
    assert run_preflight(role, GOOD).returncode == 0


def test_preflight_names_every_missing_setting():
    result = run_preflight("celery-worker", {})
    assert result.returncode == 64
    for name in ("SQL_ALCHEMY_CONN", "FERNET_KEY", "JWT_SECRET", "BROKER_URL", "EXECUTION_API_SERVER_URL"):
        assert f"{name} is not set" in result.stderr
    assert "ADMIN_PASSWORD" not in result.stderr  # only init needs it


def test_preflight_accepts_airflow_cmd_and_secret_forms():
    env = {k: v for k, v in GOOD.items() if k != "AIRFLOW__CORE__FERNET_KEY"}
    env["AIRFLOW__CORE__FERNET_KEY_CMD"] = "cat /run/secrets/fernet"
    assert run_preflight("scheduler", env).returncode == 0


def test_preflight_rejects_malformed_values_without_printing_them():
    env = {**GOOD, "AIRFLOW__CORE__FERNET_KEY": "temporary_key", "E2E3D_AIRFLOW_ADMIN_PASSWORD": "admin"}
    result = run_preflight("init", env)
    assert result.returncode == 64
    assert "AIRFLOW__CORE__FERNET_KEY is not url-safe base64" in result.stderr
    assert "E2E3D_AIRFLOW_ADMIN_PASSWORD is shorter than 12" in result.stderr
    assert "temporary_key" not in result.stderr
    short_key = {**GOOD, "AIRFLOW__CORE__FERNET_KEY": "dGVtcG9yYXJ5X2tleQ=="}  # base64, but 13 bytes
    assert "must decode to 32 bytes" in run_preflight("scheduler", short_key).stderr

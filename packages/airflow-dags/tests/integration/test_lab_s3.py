"""The object store task tests again, against the lab's S3 stand-in instead of moto: a second S3 implementation,
and one that checks credentials, so the wrong-key test runs here instead of being skipped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PACKAGE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_object_store_tasks_against_the_lab_s3(object_store):
    env = {
        **os.environ,
        "E2E3D_TEST_S3_ENDPOINT": object_store["endpoint"],
        "E2E3D_TEST_S3_ACCESS_KEY": object_store["access_key"],
        "E2E3D_TEST_S3_SECRET_KEY": object_store["secret_key"],
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        "tests/test_objectstore_and_watch.py",
    ]
    result = subprocess.run(command, cwd=PACKAGE_DIR, env=env, capture_output=True, text=True, timeout=500, check=False)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    print(f"\nobject store tests on the lab S3: {summary}")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "skipped" not in summary, result.stdout[-3000:]

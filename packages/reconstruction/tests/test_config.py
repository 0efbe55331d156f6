from pathlib import Path

import pytest

from e2e3d_reconstruction.config import load_settings
from e2e3d_reconstruction.errors import ConfigError

GOOD = {
    "E2E3D_S3_ENDPOINT": "http://minio:9000",
    "E2E3D_S3_ACCESS_KEY": "access",
    "E2E3D_S3_SECRET_KEY": "s3cr3t-value",
    "E2E3D_STATE_DIR": "/var/lib/e2e3d",
}


def test_valid_settings_with_defaults() -> None:
    s = load_settings(GOOD)
    assert s.s3_endpoint == "http://minio:9000"
    assert s.state_dir == Path("/var/lib/e2e3d")
    assert s.max_concurrent_jobs == 1 and s.max_attempts == 2 and s.device == "auto"
    assert s.buckets == ("e2e3d-input", "e2e3d-output")
    assert "s3cr3t-value" not in repr(s)


@pytest.mark.parametrize(
    "missing", ["E2E3D_S3_ENDPOINT", "E2E3D_S3_ACCESS_KEY", "E2E3D_S3_SECRET_KEY", "E2E3D_STATE_DIR"]
)
def test_missing_required_setting_is_named(missing: str) -> None:
    env = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("E2E3D_S3_ENDPOINT", "minio:9000"),
        ("E2E3D_MAX_CONCURRENT_JOBS", "two"),
        ("E2E3D_MAX_CONCURRENT_JOBS", "0"),
        ("E2E3D_JOB_TIMEOUT_S", "-5"),
        ("E2E3D_PORT", "70000"),
        ("E2E3D_DEVICE", "tpu"),
        ("E2E3D_BUCKETS", "Bad_Bucket"),
    ],
)
def test_malformed_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({**GOOD, name: value})


def test_credentials_have_no_default() -> None:
    with pytest.raises(ConfigError, match="E2E3D_S3_ACCESS_KEY"):
        load_settings({**GOOD, "E2E3D_S3_ACCESS_KEY": ""})

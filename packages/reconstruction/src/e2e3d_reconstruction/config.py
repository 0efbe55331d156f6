"""Service configuration from environment variables, validated at start.

A missing or malformed setting stops the service with a message naming the variable. Object store
credentials have no defaults: the deployment must provide them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import ConfigError

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Settings:
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_region: str
    buckets: tuple[str, ...]
    state_dir: Path
    max_concurrent_jobs: int
    job_timeout_s: float
    max_attempts: int
    device: str
    threads: int
    host: str
    port: int

    def __repr__(self) -> str:  # never print the secret
        return f"Settings(endpoint={self.s3_endpoint}, buckets={self.buckets}, state_dir={self.state_dir})"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range [{minimum}, {maximum}]")
    return value


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set: {hint}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    endpoint = _required(env, "E2E3D_S3_ENDPOINT", "the object store URL, e.g. http://minio:9000")
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"E2E3D_S3_ENDPOINT={endpoint!r} is not an http(s) URL such as http://minio:9000")
    access = _required(env, "E2E3D_S3_ACCESS_KEY", "object store credentials come from the deployment's secrets")
    secret = _required(env, "E2E3D_S3_SECRET_KEY", "object store credentials come from the deployment's secrets")
    buckets = tuple(b.strip() for b in env.get("E2E3D_BUCKETS", "e2e3d-input,e2e3d-output").split(",") if b.strip())
    for bucket in buckets:
        if not BUCKET_RE.match(bucket):
            raise ConfigError(f"E2E3D_BUCKETS contains {bucket!r}, which is not a valid S3 bucket name")
    device = env.get("E2E3D_DEVICE", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"E2E3D_DEVICE={device!r} must be auto, cpu or cuda")
    state_dir = Path(
        _required(env, "E2E3D_STATE_DIR", "a writable directory on a volume where job state survives restarts")
    )
    return Settings(
        s3_endpoint=endpoint,
        s3_access_key=access,
        s3_secret_key=secret,
        s3_region=env.get("E2E3D_S3_REGION", "us-east-1"),
        buckets=buckets,
        state_dir=state_dir,
        max_concurrent_jobs=_int(env, "E2E3D_MAX_CONCURRENT_JOBS", 1, 1, 64),
        job_timeout_s=float(_int(env, "E2E3D_JOB_TIMEOUT_S", 1800, 10, 86400)),
        max_attempts=_int(env, "E2E3D_MAX_ATTEMPTS", 2, 1, 10),
        device=device,
        threads=_int(env, "E2E3D_THREADS", os.cpu_count() or 1, 1, 256),
        host=env.get("E2E3D_HOST", "127.0.0.1"),
        port=_int(env, "E2E3D_PORT", 8000, 1, 65535),
    )

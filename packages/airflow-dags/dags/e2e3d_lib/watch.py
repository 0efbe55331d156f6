"""Finding image sets that are ready: a `_READY` marker object under the watched prefix."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from e2e3d_lib.objectstore import list_objects
from e2e3d_lib.s3uri import S3Location

READY_MARKER = "_READY"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def ready_run_id(bucket: str, set_prefix: str, etag: str, last_modified: str) -> str:
    """A deterministic run id per marker version: the same marker never triggers twice (Airflow refuses a
    second run with the same id), and uploading a new marker is the way to ask for a new run."""
    digest = hashlib.sha256(f"{bucket}/{set_prefix}|{etag}|{last_modified}".encode()).hexdigest()[:16]
    readable = _UNSAFE.sub("_", f"{bucket}.{set_prefix.strip('/')}")[:120]
    return f"s3_ready__{readable}__{digest}"


def find_ready_sets(client: Any, watch: S3Location, output_root: S3Location) -> list[dict[str, Any]]:
    """One trigger request (run id + conf) per `_READY` marker found under `watch`."""
    requests = []
    for obj in list_objects(client, watch):
        if obj.key.rsplit("/", 1)[-1] != READY_MARKER:
            continue
        set_prefix = obj.key[: -len(READY_MARKER)]  # ends with "/" (or is empty: marker at the bucket root)
        relative = set_prefix[len(watch.prefix) :]
        requests.append(
            {
                "trigger_run_id": ready_run_id(watch.bucket, set_prefix, obj.etag, obj.last_modified),
                "conf": {
                    "input": f"s3://{watch.bucket}/{set_prefix}",
                    "output": output_root.child(relative).uri,
                },
            }
        )
    return sorted(requests, key=lambda r: r["trigger_run_id"])

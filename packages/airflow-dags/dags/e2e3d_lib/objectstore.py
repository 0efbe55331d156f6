"""Object store checks of the reconstruction DAG: input validation and output verification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from e2e3d_lib.errors import ConfigurationError, InvalidInputError, MissingOutputError
from e2e3d_lib.s3uri import S3Location

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
MESH_SUFFIXES = (".obj", ".glb", ".gltf")
SUCCESS_MARKER = "_SUCCESS"
REPORT_NAME = "report.json"
# Error codes that no retry can fix: the task fails at once with the reason.
_PERMANENT_CODES = {
    "NoSuchBucket": InvalidInputError,
    "AccessDenied": ConfigurationError,
    "InvalidAccessKeyId": ConfigurationError,
    "SignatureDoesNotMatch": ConfigurationError,
}


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: str


def make_client(settings: dict[str, Any]) -> Any:
    import boto3  # imported lazily: DAG parsing must stay fast
    from botocore.config import Config

    # Path-style addressing works with every S3-compatible server; botocore retries transient errors itself.
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 4, "mode": "standard"})
    return boto3.client("s3", config=config, **settings)


def _translate(exc: Exception, loc: S3Location) -> Exception:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        permanent = _PERMANENT_CODES.get(code)
        if permanent:
            return permanent(f"object store refused {loc.uri}: {code} ({exc}); check the bucket and the connection")
    return exc  # connection errors, 5xx: transient, the task's retries handle them


def list_objects(client: Any, loc: S3Location) -> list[ObjectInfo]:
    """Every object under the location (all pages)."""
    try:
        paginator = client.get_paginator("list_objects_v2")
        found: list[ObjectInfo] = []
        for page in paginator.paginate(Bucket=loc.bucket, Prefix=loc.prefix):
            for obj in page.get("Contents", []):
                found.append(
                    ObjectInfo(
                        key=obj["Key"],
                        size=int(obj.get("Size", 0)),
                        etag=str(obj.get("ETag", "")).strip('"'),
                        last_modified=obj["LastModified"].isoformat() if obj.get("LastModified") else "",
                    )
                )
        return found
    except Exception as exc:
        raise _translate(exc, loc) from exc


def is_image(key: str) -> bool:
    return key.lower().endswith(IMAGE_SUFFIXES)


def validate_input(client: Any, loc: S3Location, min_images: int) -> dict[str, Any]:
    """Count the images of an input prefix; an empty or image-less prefix is a permanent failure."""
    objects = list_objects(client, loc)
    if not objects:
        raise InvalidInputError(f"input {loc.uri} is empty: upload the image set there first")
    images = [o for o in objects if is_image(o.key)]
    if not images:
        sample = ", ".join(o.key for o in objects[:5])
        raise InvalidInputError(
            f"input {loc.uri} holds {len(objects)} objects but no images ({'/'.join(IMAGE_SUFFIXES)}); "
            f"found e.g. {sample}"
        )
    if len(images) < min_images:
        raise InvalidInputError(
            f"input {loc.uri} holds {len(images)} images; a reconstruction needs at least {min_images}"
        )
    return {
        "input": loc.uri,
        "image_count": len(images),
        "object_count": len(objects),
        "image_bytes": sum(o.size for o in images),
    }


def _is_mesh(key: str) -> bool:
    name = key.rsplit("/", 1)[-1].lower()
    return name.endswith(MESH_SUFFIXES) or (name.endswith(".ply") and "mesh" in name)


def verify_outputs(client: Any, loc: S3Location) -> dict[str, Any]:
    """The outputs of a succeeded job: `_SUCCESS`, a mesh and `report.json` (parsed)."""
    objects = list_objects(client, loc)
    keys = {o.key for o in objects}
    missing = [name for name in (SUCCESS_MARKER, REPORT_NAME) if loc.key(name) not in keys]
    meshes = sorted(k for k in keys if _is_mesh(k))
    if not meshes:
        missing.append(f"a mesh ({'/'.join(MESH_SUFFIXES)} or mesh*.ply)")
    if missing:
        raise MissingOutputError(
            f"output {loc.uri} is incomplete: missing {', '.join(missing)} (found {len(keys)} objects)"
        )
    try:
        body = client.get_object(Bucket=loc.bucket, Key=loc.key(REPORT_NAME))["Body"].read()
        report = json.loads(body)
    except ValueError as exc:
        raise MissingOutputError(f"{loc.uri}{REPORT_NAME} is not valid JSON: {exc}") from exc
    except Exception as exc:
        raise _translate(exc, loc) from exc
    if not isinstance(report, dict):
        raise MissingOutputError(f"{loc.uri}{REPORT_NAME} must hold a JSON object, got {type(report).__name__}")
    return {"output": loc.uri, "meshes": meshes, "object_count": len(keys), "report": report}


def client_from_connection(conn_id: str) -> Any:
    """An S3 client for the Airflow connection `conn_id` (see connections.object_store_settings)."""
    from e2e3d_lib.connections import get_connection, object_store_settings

    return make_client(object_store_settings(get_connection(conn_id)))

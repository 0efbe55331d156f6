"""The object store (S3 protocol via boto3): inputs, outputs and bucket setup."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from .errors import ReconstructionError

S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")
AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "403"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading slash; "" or ending with "/"

    @classmethod
    def parse(cls, url: str) -> S3Location:
        match = S3_URL.match(url)
        if not match:
            raise ValueError(f"{url!r} is not an s3://bucket/prefix URL with a valid bucket name")
        prefix = (match.group("prefix") or "").strip("/")
        return cls(match.group("bucket"), f"{prefix}/" if prefix else "")

    def key(self, name: str) -> str:
        return self.prefix + name

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _classify(exc: Exception, what: str) -> ReconstructionError:
    if isinstance(exc, EndpointConnectionError):
        return ReconstructionError("store_unreachable", f"{what}: the object store cannot be reached ({exc})")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in AUTH_CODES:
            return ReconstructionError("store_auth", f"{what}: the object store refused the credentials ({code})")
        if code in ("NoSuchBucket", "404"):
            return ReconstructionError("bucket_missing", f"{what}: the bucket does not exist")
        return ReconstructionError("store_error", f"{what}: {code or exc}")
    return ReconstructionError("store_error", f"{what}: {exc}")


class ObjectStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self.endpoint = endpoint
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    def ensure_buckets(self, buckets: tuple[str, ...]) -> list[str]:
        """Creates missing buckets; an existing bucket is fine. Anything else raises (no swallowed errors)."""
        created = []
        for bucket in buckets:
            try:
                self.client.head_bucket(Bucket=bucket)
                continue
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket", "NotFound"):
                    raise _classify(exc, f"checking bucket {bucket}") from exc
            except (BotoCoreError, EndpointConnectionError) as exc:
                raise _classify(exc, f"checking bucket {bucket}") from exc
            try:
                self.client.create_bucket(Bucket=bucket)
                created.append(bucket)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code"))
                if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise _classify(exc, f"creating bucket {bucket}") from exc
        return created

    def ping(self) -> None:
        try:
            self.client.list_buckets()
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, "object store check") from exc

    def list_keys(self, location: S3Location) -> list[str]:
        keys: list[str] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
                keys += [o["Key"] for o in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, f"listing {location}") from exc
        return keys

    def download_prefix(self, location: S3Location, dest: Path, suffixes: set[str]) -> list[Path]:
        """Downloads the objects directly under the prefix whose names end in one of `suffixes`."""
        dest.mkdir(parents=True, exist_ok=True)
        files = []
        for key in self.list_keys(location):
            name = key[len(location.prefix) :]
            if "/" in name or Path(name).suffix.lower() not in suffixes:
                continue
            target = dest / name
            try:
                self.client.download_file(location.bucket, key, str(target))
            except (ClientError, BotoCoreError) as exc:
                raise _classify(exc, f"downloading s3://{location.bucket}/{key}") from exc
            files.append(target)
        return files

    def upload_file(self, path: Path, location: S3Location, name: str | None = None) -> None:
        key = location.key(name or path.name)
        try:
            self.client.upload_file(str(path), location.bucket, key)
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, f"uploading s3://{location.bucket}/{key}") from exc
        except Exception as exc:  # boto3's S3UploadFailedError wraps ClientError
            raise _classify(exc.__cause__ or exc, f"uploading s3://{location.bucket}/{key}") from exc

    def put_json(self, location: S3Location, name: str, data: dict) -> None:
        self.put_bytes(location, name, json.dumps(data, indent=1, default=str).encode())

    def put_bytes(self, location: S3Location, name: str, body: bytes) -> None:
        try:
            self.client.put_object(Bucket=location.bucket, Key=location.key(name), Body=body)
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, f"writing s3://{location.bucket}/{location.key(name)}") from exc

    def delete(self, location: S3Location, name: str) -> None:
        try:
            self.client.delete_object(Bucket=location.bucket, Key=location.key(name))
        except (ClientError, BotoCoreError) as exc:
            raise _classify(exc, f"deleting s3://{location.bucket}/{location.key(name)}") from exc

"""`s3://bucket/prefix` locations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from e2e3d_lib.errors import InvalidInputError

# S3 bucket naming rules (lowercase, digits, dots, hyphens; 3-63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # without leading slash; ends with "/" unless empty (the whole bucket)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def child(self, relative: str) -> S3Location:
        rel = relative.strip("/")
        return S3Location(self.bucket, f"{self.prefix}{rel}/" if rel else self.prefix)


def parse_s3_uri(value: object, what: str) -> S3Location:
    """Parse `s3://bucket/prefix`; `what` names the parameter in the error message."""
    if not isinstance(value, str) or not value.startswith("s3://"):
        raise InvalidInputError(f"{what} must be an s3://bucket/prefix URI, got {value!r}")
    bucket, _, prefix = value[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket):
        raise InvalidInputError(
            f"{what}: {bucket!r} is not a valid bucket name (3-63 characters: lowercase letters, digits, '.', '-')"
        )
    prefix = prefix.strip("/")
    if ".." in prefix.split("/"):
        raise InvalidInputError(f"{what}: '..' is not allowed in a prefix: {value!r}")
    return S3Location(bucket, f"{prefix}/" if prefix else "")

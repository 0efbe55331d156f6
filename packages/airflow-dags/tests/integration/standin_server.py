"""Serves the reconstruction API stand-in (tests/reconstruction_api_standin.py) inside the test network for the
in-container DAG run. It is a test double for the reconstruction service (tested in its own package and in the
integration suites): on submit it writes the outputs a successful job leaves (mesh, report.json, _SUCCESS) to the
object store, then reports queued → running → succeeded over the next polls."""

from __future__ import annotations

import json
import os
import signal
import threading

import boto3
from botocore.config import Config

from tests.reconstruction_api_standin import ReconstructionApiStandIn

REPORT = {"registered_images": 3, "quality": {"f_score": 0.9}, "timings": {"sparse": 1.0, "mesh": 2.0}}


def main() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["STANDIN_S3_ENDPOINT"],
        aws_access_key_id=os.environ["STANDIN_S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["STANDIN_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )

    def write_outputs(body: dict) -> None:
        bucket, _, prefix = body["output"].removeprefix("s3://").partition("/")
        prefix = prefix.strip("/") + "/"
        for name, data in (("mesh.obj", b"v 0 0 0\n"), ("report.json", json.dumps(REPORT).encode()), ("_SUCCESS", b"")):
            s3.put_object(Bucket=bucket, Key=prefix + name, Body=data)

    server = ReconstructionApiStandIn(host="0.0.0.0", port=8000)  # noqa: S104 (inside the test's private network)
    server.state.on_submit = write_outputs
    server.start()
    print(f"reconstruction API stand-in on {server.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()

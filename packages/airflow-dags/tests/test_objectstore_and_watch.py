"""Input validation, output verification and the _READY watcher against a real S3 server (see conftest)."""

from __future__ import annotations

import json
import re

import pytest

from e2e3d_lib.errors import ConfigurationError, InvalidInputError, MissingOutputError
from e2e3d_lib.objectstore import client_from_connection, validate_input, verify_outputs
from e2e3d_lib.s3uri import parse_s3_uri
from e2e3d_lib.summary import build_summary
from e2e3d_lib.watch import find_ready_sets

# Airflow's default [scheduler] allowed_run_id_pattern.
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")


def put(client, bucket: str, key: str, body: bytes = b"x") -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body)


def test_parse_s3_uri():
    loc = parse_s3_uri("s3://in-bucket/scans/chair", "params.input")
    assert (loc.bucket, loc.prefix, loc.uri) == ("in-bucket", "scans/chair/", "s3://in-bucket/scans/chair/")
    assert parse_s3_uri("s3://in-bucket", "x").prefix == ""
    for bad in ("/local/folder", "s3://UPPER/x", "s3://in-bucket/a/../b", 42):
        with pytest.raises(InvalidInputError, match="params.input"):
            parse_s3_uri(bad, "params.input")


def test_validate_input_counts_images(s3_server, bucket):
    client = s3_server.client()
    for i in range(4):
        put(client, bucket, f"set/img_{i:03d}.JPG", b"\xff\xd8" + bytes(100))
    put(client, bucket, "set/notes.txt")
    put(client, bucket, "other/img.jpg")
    info = validate_input(client, parse_s3_uri(f"s3://{bucket}/set", "input"), min_images=3)
    assert info == {"input": f"s3://{bucket}/set/", "image_count": 4, "object_count": 5, "image_bytes": 408}


def test_validate_input_rejects_an_empty_prefix(s3_server, bucket):
    with pytest.raises(InvalidInputError, match="is empty: upload the image set"):
        validate_input(s3_server.client(), parse_s3_uri(f"s3://{bucket}/nothing", "input"), 3)


def test_validate_input_rejects_a_prefix_without_images(s3_server, bucket):
    client = s3_server.client()
    put(client, bucket, "docs/readme.md")
    with pytest.raises(InvalidInputError, match=r"holds 1 objects but no images .* docs/readme.md"):
        validate_input(client, parse_s3_uri(f"s3://{bucket}/docs", "input"), 3)


def test_validate_input_rejects_too_few_images(s3_server, bucket):
    client = s3_server.client()
    put(client, bucket, "two/a.png")
    put(client, bucket, "two/b.png")
    with pytest.raises(InvalidInputError, match="holds 2 images; a reconstruction needs at least 3"):
        validate_input(client, parse_s3_uri(f"s3://{bucket}/two", "input"), 3)


def test_a_missing_bucket_is_a_permanent_input_error(s3_server):
    with pytest.raises(InvalidInputError, match="NoSuchBucket"):
        validate_input(s3_server.client(), parse_s3_uri("s3://e2e3d-no-such-bucket/x", "input"), 3)


@pytest.mark.lab_s3
def test_wrong_credentials_are_a_permanent_configuration_error(s3_server, bucket):
    assert s3_server.checks_credentials, f"the {s3_server.kind} S3 server accepts any key: this proves nothing there"
    with pytest.raises(ConfigurationError):
        validate_input(s3_server.client(secret_key="wrong-secret"), parse_s3_uri(f"s3://{bucket}/x", "input"), 3)


def write_outputs(client, bucket: str, prefix: str, report: dict | bytes) -> None:
    put(client, bucket, f"{prefix}mesh.ply")
    put(client, bucket, f"{prefix}mesh.obj")
    put(client, bucket, f"{prefix}points.ply")
    put(client, bucket, f"{prefix}report.json", report if isinstance(report, bytes) else json.dumps(report).encode())
    put(client, bucket, f"{prefix}_SUCCESS", b"")


def test_verify_outputs_and_summary(s3_server, bucket):
    client = s3_server.client()
    report = {"registered_images": 24, "quality": {"f_score": 0.87}, "timings": {"sparse": 12.5}, "device": "cpu"}
    write_outputs(client, bucket, "out/chair/", report)
    outputs = verify_outputs(client, parse_s3_uri(f"s3://{bucket}/out/chair", "output"))
    assert outputs["meshes"] == ["out/chair/mesh.obj", "out/chair/mesh.ply"]
    assert outputs["report"] == report
    summary = build_summary({"input": "s3://in/chair/", "image_count": 25}, {"id": "j1", "waited_s": 30.0}, outputs)
    assert summary["registered_images"] == 24
    assert summary["f_score"] == 0.87
    assert summary["durations_s"] == {"stages": {"sparse": 12.5}, "total": None, "waited_for_job": 30.0}
    # The reconstruction service's own field names (packages/reconstruction: stage_seconds, total_seconds).
    service_report = {"registered_images": 5, "stage_seconds": {"sfm": 3.0, "dense": 9.5}, "total_seconds": 12.5}
    service_summary = build_summary({}, {"id": "j2"}, {**outputs, "report": service_report})
    assert service_summary["durations_s"]["stages"] == {"sfm": 3.0, "dense": 9.5}
    assert service_summary["durations_s"]["total"] == 12.5
    assert service_summary["f_score"] is None  # only known when the report carries one


def test_verify_outputs_names_what_is_missing(s3_server, bucket):
    client = s3_server.client()
    put(client, bucket, "out/partial/points.ply")
    with pytest.raises(MissingOutputError, match=r"missing _SUCCESS, report.json, a mesh"):
        verify_outputs(client, parse_s3_uri(f"s3://{bucket}/out/partial", "output"))


def test_verify_outputs_rejects_a_broken_report(s3_server, bucket):
    client = s3_server.client()
    write_outputs(client, bucket, "out/broken/", b"{not json")
    with pytest.raises(MissingOutputError, match="report.json is not valid JSON"):
        verify_outputs(client, parse_s3_uri(f"s3://{bucket}/out/broken", "output"))


def test_client_from_connection_uses_the_airflow_connection(s3_server, bucket, monkeypatch):
    put(s3_server.client(), bucket, "c/a.jpg")
    conn = {
        "conn_type": "aws",
        "login": s3_server.access_key,
        "password": s3_server.secret_key,
        "extra": {"endpoint_url": s3_server.endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_E2E3D_OBJECT_STORE", json.dumps(conn))
    client = client_from_connection("e2e3d_object_store")
    assert validate_input(client, parse_s3_uri(f"s3://{bucket}/c", "input"), 1)["image_count"] == 1


def test_watch_finds_each_ready_set_once(s3_server, bucket):
    client = s3_server.client()
    for name in ("chair", "table", "lamp"):
        put(client, bucket, f"incoming/{name}/img_0.jpg")
    put(client, bucket, "incoming/chair/_READY", b"")
    put(client, bucket, "incoming/table/_READY", b"")  # lamp is still uploading: no marker yet
    watch = parse_s3_uri(f"s3://{bucket}/incoming", "watch")
    output = parse_s3_uri("s3://results/auto", "out")
    first = find_ready_sets(client, watch, output)
    assert [r["conf"] for r in first] == [
        {"input": f"s3://{bucket}/incoming/chair/", "output": "s3://results/auto/chair/"},
        {"input": f"s3://{bucket}/incoming/table/", "output": "s3://results/auto/table/"},
    ]
    assert all(RUN_ID_PATTERN.match(r["trigger_run_id"]) and len(r["trigger_run_id"]) < 250 for r in first)
    # Listing again yields the same run ids: Airflow's skip_when_already_exists turns them into no-ops.
    assert find_ready_sets(client, watch, output) == first
    put(client, bucket, "incoming/lamp/_READY", b"")
    third = find_ready_sets(client, watch, output)
    assert len(third) == 3 and {r["trigger_run_id"] for r in first} < {r["trigger_run_id"] for r in third}

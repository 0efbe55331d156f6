"""Connections and locations: where hosts and keys come from, and what a malformed one says."""

from __future__ import annotations

import json

import pytest

from e2e3d_lib.connections import get_connection, http_base_url, object_store_settings
from e2e3d_lib.errors import ConfigurationError, InvalidInputError


def conn_from_env(monkeypatch, conn_id: str, value: dict):
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    return get_connection(conn_id)


def test_http_base_url_from_a_full_url_or_parts(monkeypatch):
    full = conn_from_env(monkeypatch, "api_a", {"conn_type": "http", "host": "https://api.example:8443/base/"})
    assert http_base_url(full) == "https://api.example:8443/base"
    parts = conn_from_env(monkeypatch, "api_b", {"conn_type": "http", "host": "reconstruction", "port": 8000})
    assert http_base_url(parts) == "http://reconstruction:8000"


def test_a_connection_without_host_says_what_to_set(monkeypatch):
    empty = conn_from_env(monkeypatch, "api_c", {"conn_type": "http"})
    with pytest.raises(ConfigurationError, match="has no host"):
        http_base_url(empty)


def test_object_store_needs_both_keys(monkeypatch):
    conn = conn_from_env(
        monkeypatch, "store_a", {"conn_type": "aws", "login": "k", "extra": {"endpoint_url": "http://s3"}}
    )
    with pytest.raises(ConfigurationError, match="access key as login and the secret key as password"):
        object_store_settings(conn)
    good = conn_from_env(
        monkeypatch,
        "store_b",
        {"conn_type": "aws", "login": "k", "password": "s", "extra": {"endpoint_url": "http://s3"}},
    )
    assert object_store_settings(good)["endpoint_url"] == "http://s3"


def test_output_inside_the_input_set_is_refused():
    from e2e3d_reconstruction import check_locations

    check_locations("s3://input/scans/chair", "s3://output/chair")
    check_locations("s3://data/scans/chair", "s3://data/results/chair")
    with pytest.raises(InvalidInputError, match="lies inside params.input"):
        check_locations("s3://data/scans/chair", "s3://data/scans/chair/out")

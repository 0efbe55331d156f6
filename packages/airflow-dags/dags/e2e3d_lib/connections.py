"""Connections the DAGs use. Hosts and credentials come from Airflow connections (the metadata DB, a secrets
backend, or `AIRFLOW_CONN_<ID>` environment variables), never from code."""

from __future__ import annotations

from typing import Any

from e2e3d_lib.errors import ConfigurationError

OBJECT_STORE_CONN_ID = "e2e3d_object_store"
RECONSTRUCTION_API_CONN_ID = "e2e3d_reconstruction_api"


def get_connection(conn_id: str) -> Any:
    """The connection `conn_id`, or a ConfigurationError that says how to define it."""
    from airflow.sdk import BaseHook  # imported here: DAG files import this module at parse time

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # the SDK raises different types per backend; all mean "not defined"
        raise ConfigurationError(
            f"Airflow connection {conn_id!r} is not defined ({exc}). Define it in the UI or set "
            f"AIRFLOW_CONN_{conn_id.upper()} (e.g. a JSON connection) in the deployment."
        ) from exc


def http_base_url(conn: Any) -> str:
    """Base URL of an HTTP connection: `host` may hold a full URL, or `schema`/`host`/`port` its parts."""
    host = (conn.host or "").strip()
    if not host:
        raise ConfigurationError(f"connection {conn.conn_id!r} has no host: set it to the API's base URL")
    if "://" in host:
        return host.rstrip("/")
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def bearer_headers(conn: Any) -> dict[str, str]:
    """An optional API token in the connection's password becomes a bearer token."""
    return {"Authorization": f"Bearer {conn.password}"} if conn.password else {}


def object_store_settings(conn: Any) -> dict[str, Any]:
    """boto3 client arguments from an object store connection: login/password are the access key pair; the
    endpoint comes from `extra.endpoint_url` (AWS connection style) or the host."""
    extra = conn.extra_dejson or {}
    endpoint = extra.get("endpoint_url") or (http_base_url(conn) if conn.host else None)
    if not conn.login or not conn.password:
        raise ConfigurationError(
            f"connection {conn.conn_id!r} needs the access key as login and the secret key as password"
        )
    return {
        "endpoint_url": endpoint,
        "aws_access_key_id": conn.login,
        "aws_secret_access_key": conn.password,
        "region_name": extra.get("region_name", "us-east-1"),
    }

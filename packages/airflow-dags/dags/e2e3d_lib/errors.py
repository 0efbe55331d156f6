"""Errors of the E2E3D DAG helpers.

Permanent problems (bad input, 4xx, a failed job) derive from AirflowFailException so Airflow fails the task
without retrying; transient ones (connection refused, timeouts, 5xx) are plain exceptions that the task's
retries with exponential backoff handle.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class PermanentError(AirflowFailException):
    """A problem a retry cannot fix: Airflow fails the task at once."""


class InvalidInputError(PermanentError):
    """The input or output location is malformed, empty or holds no images."""


class MissingOutputError(PermanentError):
    """A job reported success but its outputs are incomplete."""


class ConfigurationError(PermanentError):
    """A connection or variable the DAG needs is missing or malformed."""


class ApiRejectedError(PermanentError):
    """The reconstruction API answered 4xx: the request itself is wrong."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class JobFailedError(PermanentError):
    """The reconstruction job ended failed or cancelled."""


class TransientApiError(Exception):
    """The reconstruction API could not be reached or answered 5xx: retried with backoff."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

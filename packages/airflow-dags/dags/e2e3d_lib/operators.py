"""The deferrable operator that waits for a reconstruction job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from e2e3d_lib.connections import RECONSTRUCTION_API_CONN_ID, bearer_headers, get_connection, http_base_url
from e2e3d_lib.errors import JobFailedError, PermanentError, TransientApiError
from e2e3d_lib.triggers import ReconstructionJobTrigger


class WaitForReconstructionJobOperator(BaseOperator):
    """Defers to ReconstructionJobTrigger: the worker slot is released while the job runs.

    Succeeds with the final job document; a failed or cancelled job, a 4xx, or the timeout fails the task for
    good (retrying would not change the job's outcome); an API that stays unreachable fails it retriably.
    """

    template_fields: Sequence[str] = ("job_id",)

    def __init__(
        self,
        *,
        job_id: str,
        conn_id: str = RECONSTRUCTION_API_CONN_ID,
        poll_interval: float = 10.0,
        wait_timeout: timedelta = timedelta(hours=2),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.conn_id = conn_id
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def execute(self, context: Any) -> None:
        conn = get_connection(self.conn_id)
        params = context.get("params") or {}
        minutes = params.get("wait_timeout_minutes")
        timeout = timedelta(minutes=float(minutes)) if minutes else self.wait_timeout
        poll_interval = float(params.get("poll_interval_seconds") or self.poll_interval)
        self.log.info("waiting for job %s (timeout %s) in the triggerer", self.job_id, timeout)
        self.defer(
            trigger=ReconstructionJobTrigger(
                base_url=http_base_url(conn),
                job_id=str(self.job_id),
                headers=bearer_headers(conn),
                poll_interval=poll_interval,
                timeout_s=timeout.total_seconds(),
            ),
            method_name="execute_complete",
            # Backstop only: the trigger fails the wait itself at `timeout` with a clear message.
            timeout=timeout + timedelta(minutes=5),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        return job_from_event(event, self.job_id)


def job_from_event(event: dict[str, Any], job_id: str) -> dict[str, Any]:
    """Turn the trigger's event into the job document or the matching error."""
    if event.get("status") == "error":
        if event.get("permanent"):
            raise PermanentError(f"job {job_id}: {event.get('message')}")
        raise TransientApiError(f"job {job_id}: {event.get('message')}")
    job = event["job"]
    if job["state"] != "succeeded":
        raise JobFailedError(
            f"job {job_id} ended {job['state']} at stage {job.get('stage')!r}: {job.get('error') or 'no reason given'}"
        )
    job["waited_s"] = event.get("waited_s")
    return job

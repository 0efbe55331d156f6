"""The trigger that waits for a reconstruction job in the triggerer, so no worker slot is held meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from e2e3d_lib.api import DEFAULT_TIMEOUT_S, TERMINAL_STATES, aget_job
from e2e3d_lib.errors import ApiRejectedError, TransientApiError


class ReconstructionJobTrigger(BaseTrigger):
    """Polls GET /v1/jobs/{id} until the job reaches a terminal state.

    Fires exactly one event: {"status": "done", "job": {...}} on a terminal state, or {"status": "error",
    "permanent": bool, "message": str} when the API rejects the poll (4xx) or stays unreachable for
    `max_consecutive_errors` polls, or when the job is still not done after `timeout_s` (permanent: waiting
    again would not make a stuck job finish). The operator's defer timeout is only a backstop.
    """

    def __init__(
        self,
        base_url: str,
        job_id: str,
        headers: dict[str, str] | None = None,
        poll_interval: float = 10.0,
        max_consecutive_errors: int = 30,
        timeout_s: float = 7200.0,
    ) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.base_url = base_url
        self.job_id = job_id
        self.headers = headers or {}
        self.poll_interval = poll_interval
        self.max_consecutive_errors = max_consecutive_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        # Trigger kwargs are stored encrypted (Fernet) by Airflow, so the API token in headers is not in clear.
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "base_url": self.base_url,
                "job_id": self.job_id,
                "headers": self.headers,
                "poll_interval": self.poll_interval,
                "max_consecutive_errors": self.max_consecutive_errors,
                "timeout_s": self.timeout_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        errors = 0
        polls = 0
        last_progress: tuple[Any, Any] | None = None
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=DEFAULT_TIMEOUT_S) as client:
            while True:
                polls += 1
                try:
                    job = await aget_job(client, self.base_url, self.job_id)
                except ApiRejectedError as exc:
                    yield TriggerEvent({"status": "error", "permanent": True, "message": str(exc)})
                    return
                except TransientApiError as exc:
                    errors += 1
                    self.log.warning("poll %d of job %s failed (%d in a row): %s", polls, self.job_id, errors, exc)
                    if errors >= self.max_consecutive_errors:
                        yield TriggerEvent(
                            {
                                "status": "error",
                                "permanent": False,
                                "message": f"API unreachable for {errors} polls in a row; last error: {exc}",
                            }
                        )
                        return
                else:
                    errors = 0
                    progress = (job.get("stage"), job.get("progress"))
                    if progress != last_progress:
                        self.log.info(
                            "job %s: state=%s stage=%s progress=%s after %.0fs",
                            self.job_id, job["state"], job.get("stage"), job.get("progress"),
                            time.monotonic() - started,
                        )  # fmt: skip
                        last_progress = progress
                    if job["state"] in TERMINAL_STATES:
                        yield TriggerEvent(
                            {"status": "done", "job": job, "waited_s": round(time.monotonic() - started, 3)}
                        )
                        return
                waited = time.monotonic() - started
                if waited >= self.timeout_s:
                    yield TriggerEvent(
                        {
                            "status": "error",
                            "permanent": True,
                            "message": f"job not finished after {waited:.0f}s (timeout {self.timeout_s:.0f}s)",
                        }
                    )
                    return
                await asyncio.sleep(min(self.poll_interval, max(self.timeout_s - waited, 0.0)))

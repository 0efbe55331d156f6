"""The HTTP API (FastAPI, served by uvicorn)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import ReconstructionError
from .jobs import STATES, IdempotencyConflict, InvalidTransition, JobManager, JobNotFound
from .options import JobOptions
from .store import ObjectStore, S3Location


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="s3://bucket/prefix holding the images")
    output: str = Field(description="s3://bucket/prefix where the outputs go")
    options: JobOptions = Field(default_factory=JobOptions)
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("input", "output")
    @classmethod
    def _s3(cls, value: str) -> str:
        S3Location.parse(value)  # raises ValueError with the reason
        return value


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message, **extra})


def create_app(manager: JobManager, object_store: ObjectStore, *, manage_lifecycle: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if manage_lifecycle:
            manager.start()
        yield
        if manage_lifecycle:
            manager.stop()

    app = FastAPI(title="E2E3D reconstruction", version="1", lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body", "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        text = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return _error(422, "invalid_request", text, problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.post("/v1/jobs", status_code=202)
    def submit(body: JobRequest, idempotency_key: str | None = Header(None, max_length=200)) -> JSONResponse:
        key = idempotency_key or body.idempotency_key
        if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
            return _error(400, "invalid_request", "the Idempotency-Key header and body idempotency_key differ")
        try:
            job, created = manager.submit(body.input, body.output, body.options.model_dump(), key)
        except IdempotencyConflict as exc:
            return _error(409, "idempotency_conflict", str(exc))
        return JSONResponse(status_code=202, content={"id": job.id, "state": job.state, "created": created})

    @app.get("/v1/jobs")
    def list_jobs(state: str | None = None) -> JSONResponse:
        if state is not None and state not in STATES:
            return _error(400, "invalid_request", f"state must be one of {', '.join(STATES)}")
        return JSONResponse({"jobs": [j.public() for j in manager.list(state)]})

    @app.get("/v1/jobs/{job_id}")
    def get_job(job_id: str) -> JSONResponse:
        try:
            return JSONResponse(manager.get(job_id).public())
        except JobNotFound:
            return _error(404, "not_found", f"no job with id {job_id}")

    @app.post("/v1/jobs/{job_id}/cancel", status_code=202)
    def cancel(job_id: str) -> JSONResponse:
        try:
            job = manager.cancel(job_id)
        except JobNotFound:
            return _error(404, "not_found", f"no job with id {job_id}")
        except InvalidTransition as exc:
            return _error(409, "not_cancellable", f"job {job_id} is already {exc.current}")
        return JSONResponse(status_code=202, content={"id": job.id, "state": job.state, "cancel_requested": True})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        problems = []
        try:
            object_store.ping()
        except ReconstructionError as exc:
            problems.append(exc.message)
        if not manager.workers_alive():
            problems.append("job supervisors are not running")
        if problems:
            return JSONResponse(status_code=503, content={"status": "not ready", "problems": problems})
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(manager.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app

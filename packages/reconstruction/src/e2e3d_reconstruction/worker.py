"""One job, run in its own process by the service: download → pipeline → upload (markers last).

Reads `<job_dir>/request.json`, writes `progress.json` (atomically, for the supervisor to poll) and
`result.json`. Credentials come from the environment (never written to disk).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from .config import load_settings
from .dense import resolve_device
from .errors import ConfigError, ReconstructionError
from .options import JobOptions
from .pipeline import IMAGE_SUFFIXES, run_pipeline
from .store import ObjectStore, S3Location


class ProgressFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict = {"stage": None, "progress": 0.0, "message": "", "stage_seconds": {}, "device": None}
        self.last_write = 0.0

    def update(self, force: bool = False, **fields) -> None:
        self.state.update(fields)
        now = time.monotonic()
        if force or now - self.last_write > 0.25:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state))
            os.replace(tmp, self.path)
            self.last_write = now


def run_job(job_dir: Path) -> dict:
    request = json.loads((job_dir / "request.json").read_text())
    progress = ProgressFile(job_dir / "progress.json")
    settings = load_settings()
    store = ObjectStore(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_region)
    output = S3Location.parse(request["output"])
    work = job_dir / "work"
    shutil.rmtree(work, ignore_errors=True)  # a retry starts clean
    timings: dict[str, float] = {}
    report: dict = {
        "job_id": job_dir.name,
        "input": request["input"],
        "output": request["output"],
        "stage_seconds": timings,
    }

    def on_progress(stage: str, fraction: float, message: str) -> None:
        progress.update(
            stage=stage,
            progress=round(fraction, 4),
            message=message,
            stage_seconds=timings,
            force=fraction in (0.0, 1.0),
        )

    try:
        options = JobOptions(**request.get("options", {}))
        progress.update(device=str(resolve_device(options.device)), force=True)
        start = time.monotonic()
        on_progress("download", 0.0, "listing input")
        store.delete(output, "_SUCCESS")  # a rerun into the same prefix must not keep an old marker
        images = store.download_prefix(S3Location.parse(request["input"]), work / "images", IMAGE_SUFFIXES)
        timings["download"] = round(time.monotonic() - start, 3)
        on_progress("download", 1.0, f"downloaded {len(images)} images")
        result = run_pipeline(
            work / "images",
            work / "out",
            work,
            options,
            settings.threads,
            on_progress,
            timings,
        )
        report.update(result.report)
        start = time.monotonic()
        on_progress("upload", 0.0, "uploading outputs")
        for i, path in enumerate(result.files):
            store.upload_file(path, output)
            on_progress("upload", (i + 1) / (len(result.files) + 2), f"uploaded {path.name}")
        timings["upload"] = round(time.monotonic() - start, 3)
        report["status"] = "succeeded"
        report["total_seconds"] = round(sum(timings.values()), 3)
        store.put_json(output, "report.json", report)
        store.put_bytes(output, "_SUCCESS", b"")  # last: its presence means every output above is complete
        progress.update(stage="upload", progress=1.0, message="done", stage_seconds=timings, force=True)
        return {"ok": True, "summary": _summary(report)}
    except ReconstructionError as exc:
        report.update(status="failed", reason=exc.code, message=exc.message, stage=progress.state["stage"])
        progress.update(stage_seconds=timings, force=True)
        try:
            store.put_json(output, "report.json", report)
        except ReconstructionError as store_exc:
            report["report_upload_error"] = store_exc.message
        return {"ok": False, "code": exc.code, "message": exc.message, "summary": _summary(report)}


def _summary(report: dict) -> dict:
    keys = (
        "input_images",
        "registered_images",
        "mean_reprojection_error_px",
        "dense_points",
        "vertices",
        "faces",
        "device",
        "total_seconds",
    )
    return {k: report[k] for k in keys if k in report}


def main() -> int:
    job_dir = Path(sys.argv[1])
    try:
        result = run_job(job_dir)
    except ConfigError as exc:
        result = {"ok": False, "code": "config", "message": str(exc)}
    except Exception as exc:  # an unexpected bug still ends as a failed job with its reason, not a hang
        traceback.print_exc()
        result = {"ok": False, "code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
    tmp = job_dir / "result.json.tmp"
    tmp.write_text(json.dumps(result, default=str))
    os.replace(tmp, job_dir / "result.json")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The run summary published as XCom and in the task log."""

from __future__ import annotations

from typing import Any

_FSCORE_KEYS = ("f_score", "fscore", "f-score")


def _find_fscore(report: dict[str, Any]) -> Any:
    """The F-score if the report has one, at top level or one level down (e.g. under "quality")."""
    for container in [report, *(v for v in report.values() if isinstance(v, dict))]:
        for key, value in container.items():
            if key.lower() in _FSCORE_KEYS:
                return value
    return None


def _registered_images(report: dict[str, Any]) -> int | None:
    value = report.get("registered_images")
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) else None


def _first(report: dict[str, Any], job: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for source in (report, job):
        for key in keys:
            if source.get(key):
                return source[key]
    return None


def build_summary(input_info: dict[str, Any], job: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    report = outputs.get("report", {})
    return {
        "job_id": job.get("id"),
        "input": input_info.get("input"),
        "output": outputs.get("output"),
        "images_in_input": input_info.get("image_count"),
        "registered_images": _registered_images(report),
        "f_score": _find_fscore(report),
        "meshes": outputs.get("meshes", []),
        "durations_s": {
            # The reconstruction service reports per-stage seconds as `stage_seconds` (report and job document).
            "stages": _first(report, job, ("stage_seconds", "timings", "stage_timings")),
            "total": report.get("total_seconds"),
            "waited_for_job": job.get("waited_s"),
        },
        "device": report.get("device"),
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"reconstruction summary for job {summary['job_id']}:"]
    lines += [f"  {key}: {value}" for key, value in summary.items() if key != "job_id"]
    return "\n".join(lines)

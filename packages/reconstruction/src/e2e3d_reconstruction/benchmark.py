"""Quality of a reconstruction of the synthetic set, and the `e2e3d-reconstruction benchmark` command."""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from . import sfm, synthetic
from .meshio import read_ply_header
from .options import JobOptions
from .pipeline import run_pipeline
from .quality import QualityReport, align_by_cameras, evaluate, sample_mesh


def ensure_dataset(dataset_dir: Path) -> synthetic.Scene:
    scene_file = dataset_dir / "ground_truth" / "scene.json"
    if scene_file.exists() and len(list((dataset_dir / "images").glob("*.jpg"))) == len(
        json.loads(scene_file.read_text())["cameras"]
    ):
        return synthetic.scene_from_json(json.loads(scene_file.read_text()))
    return synthetic.write_dataset(dataset_dir)


def read_mesh_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    counts = read_ply_header(path)
    raw = path.read_bytes()
    body = raw[raw.index(b"end_header\n") + len(b"end_header\n") :]
    vdtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    verts = np.frombuffer(body, dtype=vdtype, count=counts["vertex"])
    fdtype = np.dtype([("n", "u1"), ("i", "<i4", (3,))])
    faces = np.frombuffer(body, dtype=fdtype, count=counts.get("face", 0), offset=counts["vertex"] * vdtype.itemsize)
    return np.stack([verts["x"], verts["y"], verts["z"]], axis=1).astype(np.float64), faces["i"].astype(np.int64)


def evaluate_outputs(mesh_ply: Path, cameras_json: Path, dataset_dir: Path) -> QualityReport:
    scene = synthetic.scene_from_json(json.loads((dataset_dir / "ground_truth" / "scene.json").read_text()))
    truth = np.load(dataset_dir / "ground_truth" / "points.npy")
    vertices, faces = read_mesh_ply(mesh_ply)
    cams = json.loads(cameras_json.read_text())["cameras"]
    sim, rmse = align_by_cameras(
        {c["image"]: np.array(c["center"]) for c in cams}, {c.name: c.center for c in scene.cameras}
    )
    samples = sample_mesh(vertices, faces, 400_000)
    return evaluate(sim.apply(samples), truth, scene.crop_min, scene.crop_max, alignment_rmse=rmse)


def run_benchmark(work: Path, options: JobOptions, threads: int) -> dict:
    dataset = work / "dataset"
    t0 = time.monotonic()
    ensure_dataset(dataset)
    print(f"synthetic set ready in {time.monotonic() - t0:.1f}s: {dataset}", flush=True)
    cpu0 = os.times()
    last = {"stage": None}

    def on_progress(stage: str, fraction: float, message: str) -> None:
        if stage != last["stage"] or fraction in (0.0, 1.0) or ("depth map" in message and message.endswith("0/24")):
            print(f"  [{time.monotonic() - start:7.1f}s] {stage:9s} {fraction * 100:5.1f}%  {message}", flush=True)
            last["stage"] = stage

    start = time.monotonic()
    result = run_pipeline(dataset / "images", work / "out", work / "run", options, threads, on_progress)
    total = time.monotonic() - start
    cpu1 = os.times()
    quality = evaluate_outputs(work / "out" / "mesh.ply", work / "out" / "cameras.json", dataset)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "stage_seconds": result.report["stage_seconds"],
        "dense_seconds": result.report["dense_seconds"],
        "total_seconds": round(total, 2),
        "cpu_seconds": round(
            (cpu1.user - cpu0.user)
            + (cpu1.system - cpu0.system)
            + (cpu1.children_user - cpu0.children_user)
            + (cpu1.children_system - cpu0.children_system),
            1,
        ),
        "peak_rss_mib": {"pipeline": round(peak_self), "colmap": round(sfm.colmap_peak_mib)},
        "registered_images": f"{result.report['registered_images']}/{result.report['input_images']}",
        "mean_reprojection_error_px": round(result.report["mean_reprojection_error_px"], 3),
        "device": result.report["device"],
        "vertices": result.report["vertices"],
        "faces": result.report["faces"],
        "quality": quality.as_dict(),
        "load_average": os.getloadavg(),
    }
    return summary


def print_summary(summary: dict) -> None:
    q = summary["quality"]
    peak = summary["peak_rss_mib"]
    lines = ["", "== benchmark: synthetic set, 24 views 640x480 =="]
    lines += [f"  {stage:10s} {seconds:8.1f} s" for stage, seconds in summary["stage_seconds"].items()]
    lines.append(f"  dense detail {summary['dense_seconds']}")
    lines.append(f"  total      {summary['total_seconds']:8.1f} s  (cpu {summary['cpu_seconds']} s)")
    lines.append(f"  load avg   {summary['load_average'][0]:.1f} on {os.cpu_count()} cores")
    lines.append(f"  peak RSS   pipeline {peak['pipeline']} MiB, colmap {peak['colmap']} MiB")
    lines.append(f"  registered {summary['registered_images']}, device {summary['device']}")
    lines.append(f"  reprojection error {summary['mean_reprojection_error_px']} px")
    lines.append(f"  mesh       {summary['vertices']} vertices, {summary['faces']} faces")
    lines.append(f"  alignment  rmse {q['alignment_rmse']:.4f} (object size {q['object_size']:.3f})")
    for s in q["scores"]:
        frac = s["threshold"] / q["object_size"] * 100
        lines.append(
            f"  @{frac:.0f}% ({s['threshold']:.4f}): accuracy {s['precision']:.3f}"
            f"  completeness {s['recall']:.3f}  F-score {s['fscore']:.3f}"
        )
    print("\n".join(lines))

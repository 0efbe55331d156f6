"""Structure from motion with the COLMAP command line (CPU SIFT), and a reader for its text models."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ReconstructionError

Progress = Callable[[float, str], None]

# Peak resident memory of any COLMAP process in this Python process (MiB), read from /proc while it runs:
# getrusage(RUSAGE_CHILDREN) cannot be used, it counts the forking parent's memory into the child.
colmap_peak_mib = 0.0


def _peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


@dataclass
class View:
    name: str
    rotation: np.ndarray  # world-to-camera
    translation: np.ndarray
    intrinsics: np.ndarray  # 3x3 pinhole (after undistortion)
    width: int
    height: int
    point_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def center(self) -> np.ndarray:
        return -self.rotation.T @ self.translation


@dataclass
class SparseModel:
    views: list[View]
    points: np.ndarray  # N x 3
    colors: np.ndarray  # N x 3 uint8
    errors: np.ndarray  # N reprojection errors in pixels
    point_index: dict[int, int]  # COLMAP point id -> row
    image_dir: Path  # undistorted images

    @property
    def mean_reprojection_error(self) -> float:
        return float(self.errors.mean()) if len(self.errors) else float("nan")


def colmap_version() -> str:
    out = subprocess.run(["colmap", "-h"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"COLMAP ([\w.\-]+)", out)
    return match.group(1) if match else "unknown"


def _colmap(args: list[str], log: Path, progress: Progress | None = None, pattern: str | None = None) -> None:
    """Runs one COLMAP command, streaming its output to `log`; a matching `[i/n]` line reports progress."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    regex = re.compile(pattern) if pattern else None
    with log.open("a") as sink:
        sink.write(f"$ colmap {' '.join(args)}\n")
        sink.flush()
        proc = subprocess.Popen(["colmap", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert proc.stdout is not None
        global colmap_peak_mib
        for line in proc.stdout:
            colmap_peak_mib = max(colmap_peak_mib, _peak_rss_mib(proc.pid))
            sink.write(line)
            if regex and progress and (m := regex.search(line)):
                done, total = int(m.group(1)), int(m.group(2))
                progress(done / max(total, 1), line.strip())
        code = proc.wait()
    if code != 0:
        tail = log.read_text().splitlines()[-15:]
        raise ReconstructionError(
            "sfm_failed", f"colmap {args[0]} exited with {code}; last output:\n" + "\n".join(tail)
        )


def run_sfm(
    image_dir: Path, work: Path, threads: int, max_features: int = 4096, progress: Progress | None = None
) -> SparseModel:
    """Feature extraction, exhaustive matching, incremental mapping, then undistortion to pinhole cameras."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "colmap.log"
    db = work / "database.db"
    sparse = work / "sparse"
    sparse.mkdir(exist_ok=True)
    report = progress or (lambda _f, _m: None)
    n_images = len([p for p in image_dir.iterdir() if p.is_file()])

    _colmap(
        [
            "feature_extractor",
            "--database_path",
            str(db),
            "--image_path",
            str(image_dir),
            "--ImageReader.camera_model",
            "SIMPLE_RADIAL",
            "--ImageReader.single_camera",
            "1",
            "--SiftExtraction.use_gpu",
            "0",
            "--SiftExtraction.num_threads",
            str(threads),
            "--SiftExtraction.max_num_features",
            str(max_features),
        ],
        log,
        lambda f, m: report(0.3 * f, m),
        r"Processed file \[(\d+)/(\d+)\]",
    )
    _colmap(
        [
            "exhaustive_matcher",
            "--database_path",
            str(db),
            "--SiftMatching.use_gpu",
            "0",
            "--SiftMatching.num_threads",
            str(threads),
        ],
        log,
        lambda f, m: report(0.3 + 0.3 * f, m),
        r"Matching block \[(\d+)/(\d+)",
    )
    registered = 0

    def on_register(_f: float, m: str) -> None:
        nonlocal registered
        registered += 1
        report(0.6 + 0.35 * min(registered / max(n_images, 1), 1.0), m)

    try:
        _colmap(
            [
                "mapper",
                "--database_path",
                str(db),
                "--image_path",
                str(image_dir),
                "--output_path",
                str(sparse),
                "--Mapper.num_threads",
                str(threads),
            ],
            log,
            on_register,
            r"Registering image #(\d+) \((\d+)\)",
        )
    except ReconstructionError as exc:
        if "failed to create sparse model" not in exc.message:
            raise
        raise ReconstructionError(
            "sfm_no_model",
            "COLMAP could not register the images into a model: they do not show one scene with overlapping views "
            "or have too little texture",
        ) from exc
    models = [p for p in sparse.iterdir() if (p / "images.bin").exists()]
    if not models:
        raise ReconstructionError(
            "sfm_no_model",
            "COLMAP could not register the images into a model: the images do not overlap or have too little texture",
        )
    # The largest model wins when COLMAP splits the set into several.
    best = max(models, key=lambda p: (p / "images.bin").stat().st_size)
    undistorted = work / "undistorted"
    _colmap(
        [
            "image_undistorter",
            "--image_path",
            str(image_dir),
            "--input_path",
            str(best),
            "--output_path",
            str(undistorted),
            "--output_type",
            "COLMAP",
        ],
        log,
    )
    text = work / "model_txt"
    text.mkdir(exist_ok=True)
    _colmap(
        [
            "model_converter",
            "--input_path",
            str(undistorted / "sparse"),
            "--output_path",
            str(text),
            "--output_type",
            "TXT",
        ],
        log,
    )
    report(1.0, "sparse model ready")
    return read_text_model(text, undistorted / "images")


def _data_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def _quat_to_rotation(qw: float, qx: float, qy: float, qz: float) -> np.ndarray:
    return np.array(
        [
            [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
            [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
            [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)],
        ]
    )


def read_text_model(model_dir: Path, image_dir: Path) -> SparseModel:
    cameras: dict[int, tuple[np.ndarray, int, int]] = {}
    for line in _data_lines(model_dir / "cameras.txt"):
        parts = line.split()
        cam_id, model, width, height = int(parts[0]), parts[1], int(parts[2]), int(parts[3])
        params = [float(x) for x in parts[4:]]
        if model == "PINHOLE":
            fx, fy, cx, cy = params
        elif model == "SIMPLE_PINHOLE":
            fx, cx, cy = params
            fy = fx
        else:
            raise ReconstructionError("sfm_camera_model", f"unexpected camera model {model} after undistortion")
        cameras[cam_id] = (np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), width, height)

    views = []
    image_lines = _data_lines(model_dir / "images.txt")
    for header, observations in zip(image_lines[0::2], image_lines[1::2], strict=False):
        parts = header.split()
        qw, qx, qy, qz, tx, ty, tz = (float(x) for x in parts[1:8])
        cam_id, name = int(parts[8]), " ".join(parts[9:])
        obs = observations.split()
        ids = np.array([int(x) for x in obs[2::3]], dtype=np.int64)
        k, w, h = cameras[cam_id]
        views.append(View(name, _quat_to_rotation(qw, qx, qy, qz), np.array([tx, ty, tz]), k, w, h, ids[ids >= 0]))

    rows = [line.split() for line in _data_lines(model_dir / "points3D.txt")]
    point_index = {int(r[0]): i for i, r in enumerate(rows)}
    points = np.array([[float(x) for x in r[1:4]] for r in rows]).reshape(-1, 3)
    colors = np.array([[int(x) for x in r[4:7]] for r in rows], dtype=np.uint8).reshape(-1, 3)
    errors = np.array([float(r[7]) for r in rows])
    views.sort(key=lambda v: v.name)
    return SparseModel(views, points, colors, errors, point_index, image_dir)

"""The reconstruction pipeline on local files: validate → sfm → dense (stereo, filtering) → mesh → export.

Each stage reports progress and its duration through `on_progress(stage, fraction, message)`.
"""

from __future__ import annotations

import json
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import __version__, dense, meshio, sfm
from .errors import ReconstructionError
from .options import JobOptions

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
StageProgress = Callable[[str, float, str], None]


@dataclass
class PipelineResult:
    report: dict
    files: list[Path] = field(default_factory=list)


def list_images(image_dir: Path) -> list[Path]:
    return sorted(p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def validate_images(images: list[Path]) -> None:
    if not images:
        raise ReconstructionError("no_images", "the input prefix holds no .jpg/.jpeg/.png images")
    if len(images) < 3:
        raise ReconstructionError(
            "too_few_images",
            f"the input holds {len(images)} image(s); reconstruction needs at least 3 overlapping views",
        )
    for path in images:
        try:
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                im.load()  # verify() does not decode pixel data; a truncated JPEG only fails here
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ReconstructionError(
                "corrupt_image", f"image {path.name} cannot be decoded ({exc}); replace or remove it"
            ) from exc


def software_versions() -> dict[str, str]:
    import scipy
    import skimage
    import torch

    return {
        "e2e3d_reconstruction": __version__,
        "python": platform.python_version(),
        "colmap": sfm.colmap_version(),
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_image": skimage.__version__,
    }


def run_pipeline(
    image_dir: Path,
    out_dir: Path,
    work_dir: Path,
    options: JobOptions,
    threads: int,
    on_progress: StageProgress,
    timings: dict[str, float] | None = None,
) -> PipelineResult:
    """Runs every stage; stage durations go into `timings` (shared with the caller, so it can publish them live)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = {} if timings is None else timings
    report: dict = {"options": options.model_dump(), "stage_seconds": timings}

    def stage(name: str):
        start = time.monotonic()
        on_progress(name, 0.0, f"{name} started")

        def done() -> None:
            timings[name] = round(time.monotonic() - start, 3)
            on_progress(name, 1.0, f"{name} finished in {timings[name]:.1f}s")

        return (lambda f, m: on_progress(name, f, m)), done

    progress, done = stage("validate")
    images = list_images(image_dir)
    validate_images(images)
    report["input_images"] = len(images)
    done()

    progress, done = stage("sfm")
    model = sfm.run_sfm(image_dir, work_dir / "sfm", threads, options.max_features, progress)
    registered = {v.name for v in model.views}
    report["registered_images"] = len(registered)
    report["unregistered_images"] = sorted(p.name for p in images if p.name not in registered)
    report["mean_reprojection_error_px"] = model.mean_reprojection_error
    report["sparse_points"] = len(model.points)
    done()
    if len(registered) < max(3, options.min_registered_fraction * len(images)):
        raise ReconstructionError(
            "sfm_too_few_registered",
            f"only {len(registered)} of {len(images)} images could be registered; the images must show one scene "
            "with overlapping views",
        )

    progress, done = stage("dense")
    result = dense.run_dense(model, options.device, options.dense(), progress, threads)
    report["device"] = result.device
    report["dense_points"] = len(result.points)
    report["dense_seconds"] = result.timings
    report["vertices"] = len(result.vertices)
    report["faces"] = len(result.faces)
    done()

    progress, done = stage("export")
    files = [out_dir / n for n in ("mesh.ply", "mesh.obj", "points.ply", "sparse.ply", "cameras.json")]
    meshio.write_ply(files[0], result.vertices, result.vertex_colors, result.faces)
    progress(0.3, "mesh.ply written")
    meshio.write_obj(files[1], result.vertices, result.faces, result.vertex_colors)
    progress(0.6, "mesh.obj written")
    # The fused cloud is thinned to a few points per fusion voxel to keep the download reasonable.
    spacing = float(np.ptp(result.points, axis=0).max()) / (options.voxels * 2)
    _, first = np.unique(np.floor(result.points / spacing).astype(np.int64), axis=0, return_index=True)
    first.sort()
    meshio.write_ply(files[2], result.points[first], result.point_colors[first])
    meshio.write_ply(files[3], model.points.astype(np.float32), model.colors)
    cameras = [
        {
            "image": v.name,
            "width": v.width,
            "height": v.height,
            "intrinsics": v.intrinsics.tolist(),
            "rotation_world_to_camera": v.rotation.tolist(),
            "translation": v.translation.tolist(),
            "center": v.center.tolist(),
        }
        for v in model.views
    ]
    files[4].write_text(json.dumps({"convention": "x_cam = R x_world + t (COLMAP)", "cameras": cameras}, indent=1))
    report["outputs"] = [f.name for f in files]
    done()
    report["peak_rss_mib"] = {
        "pipeline": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "colmap": round(sfm.colmap_peak_mib),
    }
    report["software"] = software_versions()
    return PipelineResult(report, files)

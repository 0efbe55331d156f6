"""The dense stage: one PyTorch implementation that runs on the CPU and on CUDA.

1. Plane-sweep multi-view stereo per reference view over the COLMAP poses: depth hypotheses uniform in
   inverse depth between the sparse points' depth range, a zero-mean normalised cross-correlation (ZNCC)
   cost against the best-matching source views, winner-takes-all with sub-plane parabolic refinement.
2. Depth filtering: a ZNCC threshold, then geometric consistency (a depth must reproject consistently into
   at least `min_consistent` neighbouring depth maps), the standard MVS fusion check.
3. TSDF fusion of the filtered depth maps into a voxel grid (with colour), then marching cubes (scikit-image)
   gives the mesh.

Every tensor operation goes through `torch` on the chosen device; only marching cubes runs in numpy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.measure import marching_cubes

from .errors import ReconstructionError
from .sfm import SparseModel, View

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DenseOptions:
    max_image_size: int = 320  # the longer image side the stereo runs at
    num_depths: int = 64
    num_sources: int = 4
    window_radius: int = 3  # ZNCC window is (2r+1)^2
    min_score: float = 0.35
    min_consistent: int = 2
    voxels: int = 160  # along the longest side of the fusion volume
    truncation_voxels: float = 3.0
    min_weight: int = 2


@dataclass
class DenseResult:
    vertices: np.ndarray  # V x 3 float
    faces: np.ndarray  # F x 3 int
    vertex_colors: np.ndarray  # V x 3 uint8
    points: np.ndarray  # P x 3 fused depth points
    point_colors: np.ndarray  # P x 3 uint8
    device: str
    depth_maps: list[np.ndarray]
    timings: dict[str, float]


def resolve_device(requested: str) -> torch.device:
    """`auto` picks CUDA when a device answers; asking for `cuda` without one is an error, never a fallback."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ReconstructionError("cuda_unavailable", "device=cuda was requested but no CUDA device is available")
    if requested not in ("cpu", "cuda"):
        raise ReconstructionError("bad_option", f"device must be auto, cpu or cuda, not {requested!r}")
    return torch.device(requested)


@dataclass
class _Frame:
    view: View
    gray: torch.Tensor  # H x W
    rgb: torch.Tensor  # 3 x H x W in [0, 1]
    k: torch.Tensor  # 3x3 at stereo resolution
    r: torch.Tensor
    t: torch.Tensor


def _load_frames(model: SparseModel, options: DenseOptions, device: torch.device) -> list[_Frame]:
    frames = []
    for view in model.views:
        image = Image.open(model.image_dir / view.name).convert("RGB")
        scale = min(1.0, options.max_image_size / max(image.size))
        w, h = round(image.size[0] * scale), round(image.size[1] * scale)
        image = image.resize((w, h), Image.Resampling.LANCZOS)
        rgb = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).to(device)
        gray = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).contiguous()
        k = view.intrinsics.copy()
        k[0] *= w / view.width
        k[1] *= h / view.height
        frames.append(
            _Frame(
                view,
                gray,
                rgb,
                torch.tensor(k, dtype=torch.float32, device=device),
                torch.tensor(view.rotation, dtype=torch.float32, device=device),
                torch.tensor(view.translation, dtype=torch.float32, device=device),
            )
        )
    return frames


def select_sources(model: SparseModel, ref: int, count: int) -> list[int]:
    """Neighbours that share the most sparse points seen at a useful triangulation angle (5 to 45 degrees)."""
    ref_view = model.views[ref]
    ref_ids = set(ref_view.point_ids.tolist())
    scores = []
    for j, view in enumerate(model.views):
        if j == ref:
            continue
        shared = ref_ids.intersection(view.point_ids.tolist())
        if not shared:
            continue
        pts = model.points[[model.point_index[i] for i in shared if i in model.point_index]]
        a = pts - ref_view.center
        b = pts - view.center
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
        angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        score = float(np.sum(np.exp(-((np.clip(angle, 5, 45) - angle) ** 2) / 8.0) * (angle < 60)))
        scores.append((score, j))
    scores.sort(reverse=True)
    return [j for _, j in scores[:count]]


def _depth_range(model: SparseModel, ref: int) -> tuple[float, float]:
    view = model.views[ref]
    rows = [model.point_index[i] for i in view.point_ids.tolist() if i in model.point_index]
    if len(rows) < 10:
        raise ReconstructionError("dense_no_points", f"view {view.name} sees too few sparse points for a depth range")
    depths = (model.points[rows] @ view.rotation.T + view.translation)[:, 2]
    lo, hi = np.percentile(depths, [1, 99])
    return max(float(lo) * 0.8, 1e-3), float(hi) * 1.2


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Box mean as two 1-D passes (2k instead of k^2 operations per pixel: the sweep's hot spot)."""
    k = 2 * radius + 1
    x = F.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(x, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def _pixel_rays(frame: _Frame) -> torch.Tensor:
    h, w = frame.gray.shape
    dev = frame.gray.device
    v, u = torch.meshgrid(
        torch.arange(h, device=dev, dtype=torch.float32) + 0.5,
        torch.arange(w, device=dev, dtype=torch.float32) + 0.5,
        indexing="ij",
    )
    pix = torch.stack([u, v, torch.ones_like(u)], dim=-1).reshape(-1, 3)
    return pix @ torch.linalg.inv(frame.k).T  # HW x 3, z = 1


def _project(frame: _Frame, world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """World points (..., 3) -> pixel coordinates (..., 2) and camera depth (...)."""
    cam = world @ frame.r.T + frame.t
    z = cam[..., 2]
    pix = cam @ frame.k.T
    return pix[..., :2] / pix[..., 2:3].clamp(min=1e-6), z


def _sample(image: torch.Tensor, pix: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Samples a C x H x W image at N x M x 2 pixel coordinates -> C x N x M (zeros outside)."""
    h, w = image.shape[-2:]
    grid = torch.stack([pix[..., 0] / w * 2 - 1, pix[..., 1] / h * 2 - 1], dim=-1)
    return F.grid_sample(image[None], grid[None], mode=mode, padding_mode="zeros", align_corners=False)[0]


def plane_sweep(
    frames: list[_Frame], ref: int, sources: list[int], depth_range: tuple[float, float], options: DenseOptions
) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth (H x W) and aggregated ZNCC score (H x W) for one reference view."""
    fr = frames[ref]
    h, w = fr.gray.shape
    rad = options.window_radius
    rays = _pixel_rays(fr)
    world_dirs = rays @ fr.r  # R^T applied to rows: direction in world per unit camera depth
    origin = -fr.r.T @ fr.t
    inv = torch.linspace(1 / depth_range[0], 1 / depth_range[1], options.num_depths, device=fr.gray.device)
    depths = 1 / inv
    ref_img = fr.gray[None, None]
    mu_r = _box(ref_img, rad)
    var_r = (_box(ref_img * ref_img, rad) - mu_r * mu_r).clamp(min=0)
    keep = max(1, math.ceil(len(sources) / 2))  # robust to occlusion: average the best half of the sources
    scores = torch.empty(options.num_depths, h, w, device=fr.gray.device)
    chunk = 16
    for start in range(0, options.num_depths, chunk):
        d = depths[start : start + chunk]
        world = origin + d[:, None, None] * world_dirs[None]  # Dc x HW x 3
        per_source = []
        for s in sources:
            fs = frames[s]
            pix, z = _project(fs, world)
            warped = _sample(fs.gray[None], pix.reshape(len(d), h * w, 2))[0].reshape(len(d), 1, h, w)
            inside = (
                (z > 0)
                & (pix[..., 0] >= 0)
                & (pix[..., 0] <= fs.gray.shape[1])
                & (pix[..., 1] >= 0)
                & (pix[..., 1] <= fs.gray.shape[0])
            ).reshape(len(d), 1, h, w)
            mu_s = _box(warped, rad)
            var_s = (_box(warped * warped, rad) - mu_s * mu_s).clamp(min=0)
            cov = _box(warped * ref_img, rad) - mu_s * mu_r
            zncc = cov / torch.sqrt(var_s * var_r + 1e-6)
            # Flat patches carry no signal: treat them as no match rather than a perfect one.
            zncc = torch.where(inside & (var_s > 1e-5) & (var_r > 1e-5), zncc, torch.full_like(zncc, -1.0))
            per_source.append(zncc[:, 0])
        stacked = torch.stack(per_source)  # S x Dc x H x W
        scores[start : start + len(d)] = stacked.topk(keep, dim=0).values.mean(dim=0)
    best = scores.argmax(dim=0)
    best_score = scores.gather(0, best[None])[0]
    # Sub-plane refinement: a parabola through the scores at best-1, best, best+1 (in inverse depth).
    lo = (best - 1).clamp(min=0)
    hi = (best + 1).clamp(max=options.num_depths - 1)
    s0 = scores.gather(0, lo[None])[0]
    s2 = scores.gather(0, hi[None])[0]
    denom = s0 - 2 * best_score + s2
    offset = torch.where(denom < -1e-6, 0.5 * (s0 - s2) / denom, torch.zeros_like(denom)).clamp(-0.5, 0.5)
    interior = (best > 0) & (best < options.num_depths - 1)
    step = inv[1] - inv[0]
    inv_best = inv[best] + torch.where(interior, offset, torch.zeros_like(offset)) * step
    depth = 1 / inv_best
    depth = torch.where(interior, depth, torch.zeros_like(depth))  # a range-edge winner is not a measurement
    return depth, best_score


def consistency_filter(frames: list[_Frame], depths: list[torch.Tensor], ref: int, sources: list[int]) -> torch.Tensor:
    """How many source depth maps agree with each reference depth (reprojection < 1 px, depth within 1%)."""
    fr = frames[ref]
    h, w = fr.gray.shape
    rays = _pixel_rays(fr)
    d_ref = depths[ref].reshape(-1)
    world = (rays * d_ref[:, None] - fr.t) @ fr.r
    count = torch.zeros(h * w, device=fr.gray.device)
    for s in sources:
        fs = frames[s]
        pix, _ = _project(fs, world)
        d_src = _sample(depths[s][None], pix[None], mode="nearest")[0, 0]
        src_rays = torch.cat([pix, torch.ones_like(pix[:, :1])], dim=1) @ torch.linalg.inv(fs.k).T
        world_back = (src_rays * d_src[:, None] - fs.t) @ fs.r
        pix_back, z_back = _project(fr, world_back)
        ref_pix = torch.stack([rays[:, 0] * fr.k[0, 0] + fr.k[0, 2], rays[:, 1] * fr.k[1, 1] + fr.k[1, 2]], dim=1)
        err = torch.linalg.norm(pix_back - ref_pix, dim=1)
        rel = (z_back - d_ref).abs() / d_ref.clamp(min=1e-6)
        count += ((d_src > 0) & (err < 1.0) & (rel < 0.01)).float()
    return count.reshape(h, w)


def _fusion_bounds(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lo = torch.quantile(points, 0.005, dim=0)
    hi = torch.quantile(points, 0.995, dim=0)
    margin = (hi - lo) * 0.05
    return lo - margin, hi + margin


def tsdf_fuse(
    frames: list[_Frame],
    depths: list[torch.Tensor],
    bounds: tuple[torch.Tensor, torch.Tensor],
    options: DenseOptions,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = bounds
    extent = hi - lo
    voxel = float(extent.max()) / options.voxels
    dims = [max(2, math.ceil(float(e) / voxel)) for e in extent]
    dev = lo.device
    axes = [lo[i] + (torch.arange(dims[i], device=dev, dtype=torch.float32) + 0.5) * voxel for i in range(3)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    trunc = options.truncation_voxels * voxel
    tsdf = torch.zeros(len(grid), device=dev)
    weight = torch.zeros(len(grid), device=dev)
    color = torch.zeros(len(grid), 3, device=dev)
    color_weight = torch.zeros(len(grid), device=dev)
    for i, frame in enumerate(frames):
        pix, z = _project(frame, grid)
        d = _sample(depths[i][None], pix[None], mode="nearest")[0, 0]
        sdf = d - z
        valid = (z > 0) & (d > 0) & (sdf > -trunc)
        value = (sdf / trunc).clamp(max=1.0)
        tsdf = torch.where(valid, (tsdf * weight + value) / (weight + 1), tsdf)
        weight = weight + valid.float()
        near = torch.nonzero(valid & (sdf.abs() < trunc))[:, 0]
        color[near] += _sample(frame.rgb, pix[near][None])[:, 0].T
        color_weight[near] += 1
        progress((i + 1) / len(frames), f"fused depth map {i + 1}/{len(frames)}")
    volume = tsdf.reshape(dims).cpu().numpy()
    observed = (weight >= options.min_weight).reshape(dims).cpu().numpy()
    # A cube is meshed only when all 8 corners were observed, so unobserved space creates no surface.
    mask = observed.copy()
    mask[:-1, :-1, :-1] = np.logical_and.reduce(
        [
            observed[dx : dx + dims[0] - 1, dy : dy + dims[1] - 1, dz : dz + dims[2] - 1]
            for dx in (0, 1)
            for dy in (0, 1)
            for dz in (0, 1)
        ]
    )
    if not ((volume[mask] < 0).any() and (volume[mask] > 0).any()):
        raise ReconstructionError(
            "dense_empty", "the fused volume has no surface: depth maps were empty or inconsistent"
        )
    verts, faces, _, _ = marching_cubes(volume, level=0.0, spacing=(voxel, voxel, voxel), mask=mask)
    verts = verts + (lo.cpu().numpy() + 0.5 * voxel)
    # marching_cubes orients faces towards increasing values (free space); flip so normals face the cameras.
    faces = faces[:, ::-1].copy()
    idx = np.clip(np.round((verts - lo.cpu().numpy()) / voxel - 0.5).astype(np.int64), 0, np.array(dims) - 1)
    flat = (idx[:, 0] * dims[1] + idx[:, 1]) * dims[2] + idx[:, 2]
    cw = color_weight.cpu().numpy()[flat]
    rgb = color.cpu().numpy()[flat] / np.maximum(cw, 1)[:, None]
    return verts.astype(np.float32), faces.astype(np.int32), (rgb * 255).clip(0, 255).astype(np.uint8)


def run_dense(
    model: SparseModel,
    device: str,
    options: DenseOptions | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> DenseResult:
    options = options or DenseOptions()
    report = progress or (lambda _f, _m: None)
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    if len(model.views) < 3:
        raise ReconstructionError(
            "too_few_registered", f"only {len(model.views)} images registered; dense stereo needs 3"
        )
    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 3)
        clock = now

    with torch.no_grad():
        frames = _load_frames(model, options, dev)
        n = len(frames)
        sources = [select_sources(model, i, options.num_sources) for i in range(n)]
        depths, scores = [], []
        for i in range(n):
            if not sources[i]:
                depths.append(torch.zeros_like(frames[i].gray))
                scores.append(torch.zeros_like(frames[i].gray))
                continue
            depth, score = plane_sweep(frames, i, sources[i], _depth_range(model, i), options)
            depths.append(torch.where(score >= options.min_score, depth, torch.zeros_like(depth)))
            scores.append(score)
            report(0.6 * (i + 1) / n, f"depth map {i + 1}/{n}")
        lap("stereo")
        filtered = []
        for i in range(n):
            agree = consistency_filter(frames, depths, i, sources[i]) if sources[i] else torch.zeros_like(depths[i])
            filtered.append(torch.where(agree >= options.min_consistent, depths[i], torch.zeros_like(depths[i])))
        report(0.65, "depth maps filtered")
        pts, cols = [], []
        for frame, depth in zip(frames, filtered, strict=True):
            valid = depth.reshape(-1) > 0
            rays = _pixel_rays(frame)[valid]
            pts.append((rays * depth.reshape(-1)[valid][:, None] - frame.t) @ frame.r)
            cols.append(frame.rgb.reshape(3, -1)[:, valid].T)
        points = torch.cat(pts)
        if len(points) < 100:
            raise ReconstructionError("dense_empty", "too few consistent depth estimates to build a surface")
        point_colors = torch.cat(cols)
        lap("filter")
        verts, faces, vcols = tsdf_fuse(
            frames, filtered, _fusion_bounds(points), options, lambda f, m: report(0.65 + 0.35 * f, m)
        )
        if dev.type == "cuda":
            torch.cuda.synchronize()
        lap("fusion_and_meshing")
        return DenseResult(
            vertices=verts,
            faces=faces,
            vertex_colors=vcols,
            points=points.cpu().numpy().astype(np.float32),
            point_colors=(point_colors.cpu().numpy() * 255).clip(0, 255).astype(np.uint8),
            device=str(dev),
            depth_maps=[d.cpu().numpy() for d in filtered],
            timings=timings,
        )

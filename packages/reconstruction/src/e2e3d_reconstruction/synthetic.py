"""A deterministic synthetic multi-view data set with known geometry and camera poses.

The scene is ray-cast analytically in numpy (nothing is downloaded): a box, a sphere and a capped cylinder
standing on a square ground patch, all with a procedural solid texture (multi-octave value noise, so the
texture is consistent across views and rich enough for SIFT), under fixed Lambertian lighting (view
independent, so photo-consistency holds). Cameras sit on two rings around the object looking at it.

Conventions follow COLMAP: x_cam = R @ X_world + t, the camera looks along +z with y pointing down, and the
centre of the top-left pixel is (0.5, 0.5).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 640, 480
FOCAL = 560.0
GROUND_HALF = 1.1
LIGHT = np.array([0.4, -0.5, 0.77]) / np.linalg.norm([0.4, -0.5, 0.77])
MISS = np.inf


@dataclass(frozen=True)
class Camera:
    name: str
    rotation: np.ndarray  # 3x3 world-to-camera
    translation: np.ndarray  # 3

    @property
    def center(self) -> np.ndarray:
        return -self.rotation.T @ self.translation


@dataclass(frozen=True)
class Scene:
    cameras: list[Camera]
    width: int
    height: int
    focal: float
    crop_min: np.ndarray
    crop_max: np.ndarray

    @property
    def intrinsics(self) -> np.ndarray:
        return np.array([[self.focal, 0, self.width / 2], [0, self.focal, self.height / 2], [0, 0, 1.0]])

    @property
    def object_size(self) -> float:
        """The diagonal of the evaluation crop box: quality thresholds are fractions of it."""
        return float(np.linalg.norm(self.crop_max - self.crop_min))


def look_at(center: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    forward = target - center
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    return rotation, -rotation @ center


def make_scene(num_views: int = 24, width: int = WIDTH, height: int = HEIGHT) -> Scene:
    target = np.array([0.0, 0.0, 0.3])
    cameras = []
    for i in range(num_views):
        ring = i % 2
        azimuth = 2 * math.pi * i / num_views
        radius, elevation = (2.6, 1.3) if ring == 0 else (2.3, 2.0)
        center = np.array([radius * math.cos(azimuth), radius * math.sin(azimuth), elevation])
        rotation, translation = look_at(center, target)
        cameras.append(Camera(f"view_{i:03d}.jpg", rotation, translation))
    scale = width / WIDTH
    return Scene(
        cameras=cameras,
        width=width,
        height=height,
        focal=FOCAL * scale,
        # The object's bounding box plus a 0.1 margin (so the ground around its foot is evaluated too).
        crop_min=np.array([-0.7, -0.77, -0.05]),
        crop_max=np.array([0.82, 0.6, 1.06]),
    )


# ---------------------------------------------------------------------------------------------------------
# Ray casting. Each intersect_* returns (t, normal) with t = inf where the ray misses.


def _intersect_ground(origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -origin[2] / dirs[:, 2]
    hit = origin + t[:, None] * dirs
    ok = (t > 0) & (np.abs(hit[:, 0]) <= GROUND_HALF) & (np.abs(hit[:, 1]) <= GROUND_HALF)
    normal = np.broadcast_to([0.0, 0.0, 1.0], dirs.shape)
    return np.where(ok, t, MISS), normal


def _intersect_sphere(origin, dirs, center, radius):
    oc = origin - center
    b = dirs @ oc
    c = oc @ oc - radius * radius
    disc = b * b - c
    with np.errstate(invalid="ignore"):
        t = -b - np.sqrt(disc)
    ok = (disc > 0) & (t > 0)
    t = np.where(ok, t, MISS)
    hit = origin + np.where(ok, t, 0)[:, None] * dirs
    return t, (hit - center) / radius


def _intersect_box(origin, dirs, center, half, angle):
    # Rotate the ray into the box frame (a rotation about z), then the slab method.
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1.0]])
    o = rot @ (origin - center)
    d = dirs @ rot.T
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - o) / d
        t2 = (half - o) / d
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    tnear = np.nanmax(tmin, axis=1)
    tfar = np.nanmin(tmax, axis=1)
    ok = (tnear <= tfar) & (tnear > 0)
    axis = np.nanargmax(tmin, axis=1)
    normal_local = np.zeros_like(d)
    rows = np.arange(len(d))
    normal_local[rows, axis] = -np.sign(d[rows, axis])
    return np.where(ok, tnear, MISS), normal_local @ rot


def _intersect_cylinder(origin, dirs, base, radius, height):
    o = origin - base
    a = dirs[:, 0] ** 2 + dirs[:, 1] ** 2
    b = 2 * (o[0] * dirs[:, 0] + o[1] * dirs[:, 1])
    c = o[0] ** 2 + o[1] ** 2 - radius**2
    disc = b * b - 4 * a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t_side = (-b - np.sqrt(disc)) / (2 * a)
        z = o[2] + t_side * dirs[:, 2]
        side_ok = (disc > 0) & (t_side > 0) & (z >= 0) & (z <= height)
        t_cap = (height - o[2]) / dirs[:, 2]
    cap_hit = o + t_cap[:, None] * dirs
    cap_ok = (t_cap > 0) & (cap_hit[:, 0] ** 2 + cap_hit[:, 1] ** 2 <= radius**2)
    t_side = np.where(side_ok, t_side, MISS)
    t_cap = np.where(cap_ok, t_cap, MISS)
    hit = o + np.where(np.isfinite(t_side), t_side, 0)[:, None] * dirs
    n_side = np.stack([hit[:, 0] / radius, hit[:, 1] / radius, np.zeros(len(dirs))], axis=1)
    use_cap = t_cap < t_side
    normal = np.where(use_cap[:, None], [0.0, 0.0, 1.0], n_side)
    return np.minimum(t_side, t_cap), normal


def _primitives():
    return [
        lambda o, d: _intersect_ground(o, d),
        lambda o, d: _intersect_box(o, d, np.array([-0.1, 0.05, 0.22]), np.array([0.42, 0.28, 0.22]), 0.5),
        lambda o, d: _intersect_sphere(o, d, np.array([-0.1, 0.05, 0.7]), 0.26),
        lambda o, d: _intersect_cylinder(o, d, np.array([0.55, -0.5, 0.0]), 0.17, 0.75),
    ]


def cast(origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit along each ray: (t, normal, material index; -1 = background)."""
    best_t = np.full(len(dirs), MISS)
    best_n = np.zeros_like(dirs)
    material = np.full(len(dirs), -1)
    for index, intersect in enumerate(_primitives()):
        t, n = intersect(origin, dirs)
        closer = t < best_t
        best_t = np.where(closer, t, best_t)
        best_n = np.where(closer[:, None], n, best_n)
        material = np.where(closer, index, material)
    return best_t, best_n, material


# ---------------------------------------------------------------------------------------------------------
# Procedural solid texture: hashed lattice value noise (written here because it must be bit-for-bit
# deterministic across machines and library versions; it is a few lines of integer hashing).


def _hash(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray, seed: int) -> np.ndarray:
    h = (
        ix.astype(np.uint64) * np.uint64(0x8DA6B343)
        ^ iy.astype(np.uint64) * np.uint64(0xD8163841)
        ^ iz.astype(np.uint64) * np.uint64(0xCB1AB31F)
        ^ np.uint64(seed * 0x9E3779B1)
    )
    h ^= h >> np.uint64(13)
    h *= np.uint64(0x5BD1E995)
    h ^= h >> np.uint64(15)
    return (h & np.uint64(0xFFFFFF)).astype(np.float64) / float(0xFFFFFF)


def value_noise(points: np.ndarray, frequency: float, seed: int) -> np.ndarray:
    q = points * frequency
    base = np.floor(q).astype(np.int64)
    f = q - base
    w = f * f * (3 - 2 * f)
    out = np.zeros(len(points))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                weight = (
                    (w[:, 0] if dx else 1 - w[:, 0])
                    * (w[:, 1] if dy else 1 - w[:, 1])
                    * (w[:, 2] if dz else 1 - w[:, 2])
                )
                out += weight * _hash(base[:, 0] + dx, base[:, 1] + dy, base[:, 2] + dz, seed)
    return out


def albedo(points: np.ndarray, material: np.ndarray) -> np.ndarray:
    detail = (
        value_noise(points, 7.0, 1) * 0.45 + value_noise(points, 15.0, 2) * 0.35 + value_noise(points, 31.0, 3) * 0.2
    )
    contrast = 1 / (1 + np.exp(-(detail - 0.5) * 9))  # strong blotches: good SIFT and ZNCC signal
    hue = value_noise(points, 2.5, 4 + material.clip(0))
    palette_a = np.array([[0.85, 0.55, 0.25], [0.2, 0.45, 0.85], [0.85, 0.25, 0.3], [0.3, 0.75, 0.35]])
    palette_b = np.array([[0.35, 0.6, 0.3], [0.9, 0.8, 0.3], [0.3, 0.3, 0.8], [0.8, 0.5, 0.8]])
    m = material.clip(0)
    tint = palette_a[m] * hue[:, None] + palette_b[m] * (1 - hue[:, None])
    return tint * (0.15 + 0.85 * contrast[:, None])


def camera_rays(scene: Scene, camera: Camera, offset: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    v, u = np.mgrid[0 : scene.height, 0 : scene.width]
    x = (u.ravel() + offset[0] - scene.width / 2) / scene.focal
    y = (v.ravel() + offset[1] - scene.height / 2) / scene.focal
    dirs_cam = np.stack([x, y, np.ones_like(x)], axis=1)
    dirs = dirs_cam @ camera.rotation  # R^T applied to each row
    return dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def render(scene: Scene, camera: Camera, supersample: int = 2) -> np.ndarray:
    """An RGB image in [0, 1], supersampled on a regular grid to avoid aliasing the fine texture."""
    acc = np.zeros((scene.height * scene.width, 3))
    steps = [(i + 0.5) / supersample for i in range(supersample)]
    for oy in steps:
        for ox in steps:
            dirs = camera_rays(scene, camera, (ox, oy))
            t, normal, material = cast(camera.center, dirs)
            hit = np.isfinite(t)
            color = np.tile([0.78, 0.8, 0.83], (len(dirs), 1))
            points = camera.center + t[hit, None] * dirs[hit]
            shade = 0.35 + 0.65 * np.clip(normal[hit] @ LIGHT, 0, 1)
            color[hit] = albedo(points, material[hit]) * shade[:, None]
            acc += color
    return (acc / supersample**2).reshape(scene.height, scene.width, 3)


def visible_surface_points(scene: Scene, stride: int = 2) -> np.ndarray:
    """Ground-truth points: every surface point inside the crop box that some camera sees."""
    chunks = []
    for camera in scene.cameras:
        dirs = camera_rays(scene, camera).reshape(scene.height, scene.width, 3)[::stride, ::stride].reshape(-1, 3)
        t, _, _ = cast(camera.center, dirs)
        hit = np.isfinite(t)
        pts = camera.center + t[hit, None] * dirs[hit]
        inside = np.all((pts >= scene.crop_min) & (pts <= scene.crop_max), axis=1)
        chunks.append(pts[inside])
    return np.concatenate(chunks)


def write_dataset(out_dir: Path, num_views: int = 24, supersample: int = 2) -> Scene:
    """Writes images/<name>.jpg and ground_truth/{scene.json,points.npy} under out_dir."""
    scene = make_scene(num_views)
    images = out_dir / "images"
    truth = out_dir / "ground_truth"
    images.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    for camera in scene.cameras:
        rgb = render(scene, camera, supersample)
        Image.fromarray((rgb * 255 + 0.5).clip(0, 255).astype(np.uint8)).save(images / camera.name, quality=95)
    np.save(truth / "points.npy", visible_surface_points(scene).astype(np.float32))
    (truth / "scene.json").write_text(json.dumps(scene_to_json(scene), indent=2))
    return scene


def scene_to_json(scene: Scene) -> dict:
    return {
        "width": scene.width,
        "height": scene.height,
        "focal": scene.focal,
        "crop_min": scene.crop_min.tolist(),
        "crop_max": scene.crop_max.tolist(),
        "cameras": [
            {"name": c.name, "rotation": c.rotation.tolist(), "translation": c.translation.tolist()}
            for c in scene.cameras
        ],
    }


def scene_from_json(data: dict) -> Scene:
    return Scene(
        cameras=[Camera(c["name"], np.array(c["rotation"]), np.array(c["translation"])) for c in data["cameras"]],
        width=data["width"],
        height=data["height"],
        focal=data["focal"],
        crop_min=np.array(data["crop_min"]),
        crop_max=np.array(data["crop_max"]),
    )

"""Writers for the outputs: binary PLY (mesh and point cloud) and Wavefront OBJ.

Written by hand on purpose: the usual libraries (trimesh, open3d, plyfile) either pull a PyPI numpy that would
shadow Debian's ABI-matched one in the venv, or a large native stack; both formats are a few lines of numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_ply(
    path: Path, vertices: np.ndarray, colors: np.ndarray | None = None, faces: np.ndarray | None = None
) -> None:
    n = len(vertices)
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += ["property float x", "property float y", "property float z"]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        header += ["property uchar red", "property uchar green", "property uchar blue"]
        fields += [("r", "u1"), ("g", "u1"), ("b", "u1")]
    if faces is not None:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    header.append("end_header")
    data = np.empty(n, dtype=fields)
    data["x"], data["y"], data["z"] = vertices[:, 0], vertices[:, 1], vertices[:, 2]
    if colors is not None:
        data["r"], data["g"], data["b"] = colors[:, 0], colors[:, 1], colors[:, 2]
    with path.open("wb") as f:
        f.write(("\n".join(header) + "\n").encode("ascii"))
        f.write(data.tobytes())
        if faces is not None:
            packed = np.empty(len(faces), dtype=[("n", "u1"), ("i", "<i4", (3,))])
            packed["n"] = 3
            packed["i"] = faces
            f.write(packed.tobytes())


def read_ply_header(path: Path) -> dict[str, int]:
    """Element counts from a PLY header (used by tests and the report checks)."""
    counts: dict[str, int] = {}
    with path.open("rb") as f:
        for raw in f:
            line = raw.decode("ascii").strip()
            if line.startswith("element"):
                _, name, count = line.split()
                counts[name] = int(count)
            if line == "end_header":
                break
    return counts


def write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> None:
    """OBJ with per-vertex colours as the widely read `v x y z r g b` extension (MeshLab, Blender, Open3D)."""
    with path.open("w") as f:
        f.write("# E2E3D reconstruction mesh\n")
        if colors is not None:
            rows = np.hstack([vertices, colors.astype(np.float64) / 255.0])
            np.savetxt(f, rows, fmt="v %.6f %.6f %.6f %.4f %.4f %.4f")
        else:
            np.savetxt(f, vertices, fmt="v %.6f %.6f %.6f")
        np.savetxt(f, faces + 1, fmt="f %d %d %d")

import numpy as np
import pytest

from e2e3d_reconstruction.quality import align_by_cameras, evaluate, sample_mesh, umeyama


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_umeyama_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(1)
    src = rng.normal(size=(24, 3))
    r, s, t = _rotation(2), 2.5, np.array([1.0, -2.0, 0.5])
    dst = s * src @ r.T + t
    sim = umeyama(src, dst)
    assert sim.scale == pytest.approx(s)
    np.testing.assert_allclose(sim.rotation, r, atol=1e-9)
    np.testing.assert_allclose(sim.apply(src), dst, atol=1e-9)


def test_align_by_cameras_matches_names_and_reports_residual() -> None:
    rng = np.random.default_rng(3)
    gt = {f"v{i}": rng.normal(size=3) for i in range(10)}
    rec = {n: (c - 1.0) / 3.0 for n, c in gt.items()}
    rec["extra"] = np.zeros(3)  # unmatched names are ignored
    sim, rmse = align_by_cameras(rec, gt)
    assert rmse < 1e-9
    assert sim.scale == pytest.approx(3.0)


def _plane(n: int, seed: int) -> np.ndarray:
    xy = np.random.default_rng(seed).random((n, 2))
    return np.column_stack([xy, np.zeros(n)])


def test_perfect_reconstruction_scores_one() -> None:
    lo, hi = np.array([0, 0, -0.1]), np.array([1, 1, 0.1])
    q = evaluate(_plane(20000, 1), _plane(20000, 2), lo, hi)
    assert q.fscore_at(0.02) > 0.99
    assert q.fscore_at(0.01) > 0.95


def test_offset_beyond_threshold_scores_zero_and_half_coverage_halves_completeness() -> None:
    lo, hi = np.array([0, 0, -0.2]), np.array([1, 1, 0.2])
    size = np.linalg.norm(hi - lo)
    shifted = _plane(20000, 1) + [0, 0, 0.03 * size]
    assert evaluate(shifted, _plane(20000, 2), lo, hi).fscore_at(0.02) == 0.0
    half = _plane(20000, 1)
    half = half[half[:, 0] < 0.5]
    q = evaluate(half, _plane(20000, 2), lo, hi)
    s2 = next(s for s in q.scores if s.threshold == pytest.approx(0.02 * size))
    assert s2.precision > 0.99
    assert 0.45 < s2.recall < 0.6


def test_points_outside_the_crop_are_ignored() -> None:
    lo, hi = np.array([0, 0, -0.1]), np.array([1, 1, 0.1])
    noisy = np.vstack([_plane(20000, 1), np.full((5000, 3), 5.0)])
    assert evaluate(noisy, _plane(20000, 2), lo, hi).fscore_at(0.02) > 0.99


def test_sample_mesh_stays_on_the_surface() -> None:
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [1, 3, 2]])
    pts = sample_mesh(verts, faces, 5000)
    assert np.allclose(pts[:, 2], 0) and pts[:, :2].min() >= 0 and pts[:, :2].max() <= 1
    assert abs(pts[:, 0].mean() - 0.5) < 0.02  # area-uniform

"""E2E3D reconstruction: COLMAP structure from motion, a PyTorch dense stage (CPU or CUDA), TSDF meshing."""

__version__ = "0.1.0"

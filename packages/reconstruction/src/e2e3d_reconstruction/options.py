"""Job options (validated at the API and again in the worker)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .dense import DenseOptions


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_image_size: int = Field(320, ge=64, le=4096, description="longer image side for dense stereo")
    num_depths: int = Field(64, ge=16, le=512)
    voxels: int = Field(160, ge=32, le=512, description="fusion grid resolution along the longest side")
    max_features: int = Field(4096, ge=256, le=32768)
    min_registered_fraction: float = Field(0.5, gt=0, le=1)

    def dense(self) -> DenseOptions:
        return DenseOptions(max_image_size=self.max_image_size, num_depths=self.num_depths, voxels=self.voxels)

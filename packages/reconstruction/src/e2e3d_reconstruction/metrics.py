"""Prometheus metrics. One registry per service instance (tests create several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Gauge("e2e3d_jobs", "Jobs known to the service, by state", ["state"], registry=self.registry)
        self.submitted = Counter(
            "e2e3d_jobs_submitted", "Jobs accepted (idempotent retries excluded)", registry=self.registry
        )
        self.stage_seconds = Histogram(
            "e2e3d_stage_duration_seconds",
            "Duration of each pipeline stage",
            ["stage"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )
        self.images = Counter(
            "e2e3d_images_processed", "Input images processed by finished jobs", registry=self.registry
        )
        self.failures = Counter("e2e3d_job_failures", "Failed jobs by reason", ["reason"], registry=self.registry)
        self.dense_runs = Counter(
            "e2e3d_dense_runs", "Dense stage runs by the device that ran them", ["device"], registry=self.registry
        )
        self.device = Gauge(
            "e2e3d_device_info",
            "The device `auto` resolves to in this service (1 = in use)",
            ["device"],
            registry=self.registry,
        )

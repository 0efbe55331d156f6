"""Command line: `serve`, `generate`, `benchmark`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import ConfigError, ReconstructionError
from .quality import TARGET_FSCORE_AT_2PCT


def _serve() -> int:
    from .config import load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from .api import create_app
    from .dense import resolve_device
    from .jobs import JobManager, JobStore
    from .metrics import Metrics
    from .store import ObjectStore

    store = ObjectStore(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_region)
    try:
        created = store.ensure_buckets(settings.buckets)
    except ReconstructionError as exc:
        print(f"bucket setup failed: {exc.message}", file=sys.stderr)
        return 3
    print(f"buckets ready: {', '.join(settings.buckets)} (created: {', '.join(created) or 'none'})", flush=True)
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.state_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        print(f"configuration error: E2E3D_STATE_DIR={settings.state_dir} is not writable ({exc})", file=sys.stderr)
        return 2
    metrics = Metrics()
    metrics.device.labels(device=str(resolve_device(settings.device))).set(1)
    manager = JobManager(
        JobStore(settings.state_dir),
        store,
        metrics,
        settings.max_concurrent_jobs,
        settings.job_timeout_s,
        settings.max_attempts,
    )
    uvicorn.run(create_app(manager, store), host=settings.host, port=settings.port, workers=1, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e3d-reconstruction")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP service (configuration from E2E3D_* environment variables)")
    gen = sub.add_parser("generate", help="write the synthetic data set")
    gen.add_argument("out", type=Path)
    gen.add_argument("--views", type=int, default=24)
    bench = sub.add_parser("benchmark", help="reconstruct the synthetic set and score it against ground truth")
    bench.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "e2e3d-benchmark")
    bench.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    bench.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    bench.add_argument("--json", type=Path, help="also write the summary here")
    bench.add_argument(
        "--min-fscore",
        type=float,
        default=TARGET_FSCORE_AT_2PCT,
        help="exit 1 when F-score at 2%% is below this (default: the project's target, %(default)s)",
    )
    args = parser.parse_args(argv)

    if args.command == "serve":
        return _serve()
    if args.command == "generate":
        from .synthetic import write_dataset

        scene = write_dataset(args.out, args.views)
        print(
            f"wrote {len(scene.cameras)} views to {args.out / 'images'} and ground truth to {args.out / 'ground_truth'}"
        )
        return 0
    from .benchmark import print_summary, run_benchmark
    from .options import JobOptions

    try:
        summary = run_benchmark(args.work, JobOptions(device=args.device), args.threads)
    except ReconstructionError as exc:
        print(f"benchmark failed ({exc.code}): {exc.message}", file=sys.stderr)
        return 1
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    f2 = next(
        s["fscore"]
        for s in summary["quality"]["scores"]
        if abs(s["threshold"] / summary["quality"]["object_size"] - 0.02) < 1e-6
    )
    return 0 if f2 >= args.min_fscore else 1


if __name__ == "__main__":
    sys.exit(main())

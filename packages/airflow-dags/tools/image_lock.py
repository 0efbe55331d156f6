"""The Airflow image's requirements lock, exported from this package's uv.lock.

One lock serves the test environment and the image: `uv export --frozen --no-dev --hashes` turns uv.lock into a
pip requirements file with every distribution's hashes, which the Dockerfile installs with --require-hashes.
Run after changing dependencies:  tools/python/run packages/airflow-dags python tools/image_lock.py write
Check (also done by tests/test_image_lock.py):  tools/python/run packages/airflow-dags python tools/image_lock.py check
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LOCK_FILE = PACKAGE_DIR.parents[1] / "docker" / "airflow" / "requirements.lock.txt"
WRITE_COMMAND = "tools/python/run packages/airflow-dags python tools/image_lock.py write"
HEADER = (
    "# The Airflow image's dependencies, exported from packages/airflow-dags/uv.lock with hashes.\n"
    f"# Do not edit: run `{WRITE_COMMAND}`.\n"
)


def uv_binary() -> str:
    """`uv run` exports UV (the pinned uv tools/python/run installed); fall back to PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise SystemExit("error: uv not found; run this through tools/python/run packages/airflow-dags")
    return found


def render() -> str:
    # --color never: under Nx (FORCE_COLOR) uv would colour the "# via" comments.
    command = [
        uv_binary(),
        "export",
        "--frozen",
        "--no-dev",
        "--hashes",
        "--no-emit-project",
        "--no-header",
        "--color",
        "never",
    ]
    result = subprocess.run(command, cwd=PACKAGE_DIR, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed:\n{result.stderr}")
    return HEADER + result.stdout


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else "check"
    expected = render()
    if mode == "write":
        LOCK_FILE.write_text(expected)
        print(f"wrote {LOCK_FILE} ({expected.count('==')} pinned distributions)")
        return 0
    if mode == "check":
        if not LOCK_FILE.exists() or LOCK_FILE.read_text() != expected:
            print(f"error: {LOCK_FILE} is out of date with uv.lock; run: {WRITE_COMMAND}")
            return 1
        print(f"{LOCK_FILE} matches uv.lock")
        return 0
    print("usage: image_lock.py [check|write]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

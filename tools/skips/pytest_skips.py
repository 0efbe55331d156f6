"""The skip check of a pytest run: the same policy as vitest's (tools/skips/src/policy.ts, one checker for both).

Each Python package's tests/conftest.py registers it (register(config)). Every skip of the run (a skip marker, a
pytest.skip() in a test or a fixture, a module skipped at collection) is recorded as {runner, file, test, reason};
at the end they go to tools/skips/src/cli.ts, which prints each with its reason and refuses, in CI, those that
tools/ci/allowed-skips.yaml does not list (and reasonless ones everywhere): the run then fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TSX = REPO_ROOT / "node_modules" / ".bin" / "tsx"
CLI = REPO_ROOT / "tools" / "skips" / "src" / "cli.ts"


def _ci() -> bool:
    value = os.environ.get("CI", "").strip().lower()
    return value not in ("", "false", "0")


def _reason(longrepr: object) -> str:
    # A skip's longrepr is (path, line, "Skipped: <reason>"); pytest.mark.skip without one says "unconditional skip".
    message = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return message.removeprefix("Skipped: ").strip()


class SkipCheck:
    def __init__(self, rootdir: Path, allow_list: str | None) -> None:
        self.rootdir = rootdir
        self.allow_list = allow_list
        self.records: list[dict[str, str]] = []
        self.output = ""

    def _record(self, nodeid: str, longrepr: object) -> None:
        path = (self.rootdir / nodeid.split("::", 1)[0]).resolve()
        try:
            file = path.relative_to(REPO_ROOT).as_posix()
        except ValueError:  # a test outside the repository (the mechanism's own tests use temporary ones)
            file = path.as_posix()
        self.records.append({"runner": "pytest", "file": file, "test": nodeid, "reason": _reason(longrepr)})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self._record(report.nodeid, report.longrepr)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # An expected failure is reported as skipped too; it is not a skip.
        if report.skipped and not hasattr(report, "wasxfail"):
            self._record(report.nodeid, report.longrepr)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.records:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", prefix="e2e3d-skips-", delete=False) as out:
            out.writelines(json.dumps(r) + "\n" for r in self.records)
        try:
            self.output, refused = self._check(Path(out.name))
        finally:
            os.unlink(out.name)
        if refused and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _check(self, records: Path) -> tuple[str, bool]:
        if not TSX.exists():
            lines = [f"SKIP {r['test']}: {r['reason'] or '(no reason)'}" for r in self.records]
            problem = f"cannot check these skips: {TSX} is missing (run npm ci at the repository root)"
            return "\n".join([*lines, ("error: " if _ci() else "warning: ") + problem]), _ci()
        command = [str(TSX), str(CLI), "check", "--runner", "pytest", "--records", str(records)]
        if self.allow_list:
            command += ["--allow-list", self.allow_list]
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=120)
        return (result.stdout + result.stderr).rstrip(), result.returncode != 0

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.output:
            terminalreporter.write_sep("-", "skip check (tools/ci/allowed-skips.yaml)")
            terminalreporter.write_line(self.output)


def addoption(parser: pytest.Parser) -> None:
    parser.addoption("--skip-allow-list", default=None, help="another skip allow-list (the mechanism's own tests)")


def register(config: pytest.Config) -> None:
    config.pluginmanager.register(
        SkipCheck(Path(str(config.rootpath)), config.getoption("--skip-allow-list")), "e2e3d-skip-check"
    )

"""The pytest side of the skip check (tools/skips/pytest_skips.py, registered by conftest.py), end to end: a real
pytest run of a throwaway test file, in CI and not, against a throwaway allow-list (so the repository's own list and
CI stay out of it). The vitest side has the same cases in tools/skips/test/reporter.test.ts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CONFTEST = f"""
import sys
sys.path.insert(0, {str(REPO_ROOT / "tools" / "skips")!r})
import pytest_skips

def pytest_addoption(parser):
    pytest_skips.addoption(parser)

def pytest_configure(config):
    pytest_skips.register(config)
"""

TESTS = """
import pytest

def test_runs():
    assert True

def test_needs_a_widget():
    pytest.skip("no widget answers here")

@pytest.mark.skip(reason="the registry binary is missing: apt-get install docker-registry")
def test_needs_the_registry():
    pass
"""


def run(tmp_path: Path, tests: str, ci: str, allowed_patterns: list[str], lab: dict | None = None) -> tuple[int, str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    test_file = tmp_path / "test_fixture.py"
    test_file.write_text(tests)
    allow_list = tmp_path / "allowed-skips.yaml"
    entries = [
        {"id": f"entry-{i}", "reason": "the fixture's stand-in for no CUDA device", "files": [test_file.as_posix()],
         "reason_pattern": pattern, "unless_lab": "widget"}
        for i, pattern in enumerate(allowed_patterns)
    ]  # fmt: skip
    allow_list.write_text(json.dumps({"allowed": entries}))  # JSON is YAML
    lab_home = tmp_path / "lab"
    lab_home.mkdir(exist_ok=True)
    if lab is not None:
        (lab_home / "lab.json").write_text(json.dumps(lab))
    env = {**os.environ, "CI": ci, "E2E3D_LAB_HOME": str(lab_home)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--skip-allow-list", str(allow_list), "."],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def test_in_ci_an_unlisted_skip_fails_the_run_with_its_reason(tmp_path: Path) -> None:
    code, out = run(tmp_path, TESTS, "true", ["^no widget"])
    assert code == 1, out
    assert "REFUSED: " in out and "test_needs_the_registry" in out
    assert "reason: the registry binary is missing: apt-get install docker-registry" in out
    assert "the reason matches none of the reason patterns allowed for this file" in out
    assert "error: 1 skip(s) refused" in out
    assert "allowed (entry-0): " in out and "reason: no widget answers here" in out


def test_in_ci_listed_skips_pass(tmp_path: Path) -> None:
    code, out = run(tmp_path, TESTS, "true", ["^no widget", "^the registry binary is missing"])
    assert code == 0, out
    assert "REFUSED" not in out


def test_in_ci_a_listed_skip_is_refused_once_the_lab_reports_what_it_needs(tmp_path: Path) -> None:
    code, out = run(tmp_path, TESTS, "true", ["^no widget", "^the registry"], lab={"widget": {"version": "1"}})
    assert code == 1, out
    assert "only while the lab does not report `widget`, and it does" in out


def test_outside_ci_skips_are_printed_with_their_reasons_and_allowed(tmp_path: Path) -> None:
    code, out = run(tmp_path, TESTS, "", [])
    assert code == 0, out
    assert "not CI: reported, not enforced" in out
    assert "reason: the registry binary is missing: apt-get install docker-registry" in out


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_skip_without_a_reason_fails_everywhere(tmp_path: Path, ci: str) -> None:
    bare = "import pytest\n\n@pytest.mark.skip\ndef test_bare():\n    pass\n\ndef test_empty():\n    pytest.skip('')\n"
    code, out = run(tmp_path, bare, ci, [".*"])
    assert code == 1, out
    assert "skipped without a reason" in out
